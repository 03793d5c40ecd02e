// Package static is Django's collectstatic and ManifestStaticFilesStorage for kit/storage:
// [Collect] copies static files from a list of sources (fs.FS; the first source wins for a name)
// into a Storage, with content-hashed copies whose names change with their content and CSS/JS
// references rewritten to them; [Manifest] resolves logical names to those hashed URLs in
// templates; [Handler] serves them with far-future caching and precompressed variants.
//
//	rep, err := static.Collect(ctx, dst, []fs.FS{os.DirFS("app/static"), os.DirFS("vendor/static")}, nil)
//	fmt.Println(rep) // 120 static files copied, 0 unmodified, 120 post-processed.
//
//	m, err := static.LoadManifest(ctx, dst, "")
//	tmpl := template.Must(template.New("page").Funcs(m.FuncMap()).Parse(`<link href="{{ static "css/app.css" }}">`))
//	mux.Handle("/static/", http.StripPrefix("/static/", static.Handler(dst, m, nil)))
package static
