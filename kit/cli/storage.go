package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/stackkit/stackkit/kit/registry"
	"github.com/stackkit/stackkit/kit/storage"
	"github.com/stackkit/stackkit/kit/storage/static"

	// The storage backends kitctl speaks to (file:// and mem:// are built in).
	_ "github.com/stackkit/stackkit/kit/storage/s3"
)

func (a *app) storageCommand() *cobra.Command {
	var storageURL string
	cmd := &cobra.Command{
		Use:   "storage",
		Short: "List, upload, download, delete and sign objects; collect static files",
		Long: `Work with the objects of a kit/storage backend (file://, mem://, s3://): list them, copy files
in and out (streamed, so any size moves in constant memory; "-" is stdin or stdout), delete them,
print their public or signed URLs, and collect static files (Django's collectstatic).

The storage is --storage-url, else KIT_STORAGE_URL, else ` + storage.DefaultURL + `. Secrets in it
(passwords, secret keys, tokens) never appear in output or errors.`,
	}
	group(cmd)
	// Resolved at run time, so a secret in KIT_STORAGE_URL never shows in --help.
	cmd.PersistentFlags().StringVar(&storageURL, "storage-url", "", "storage URL (env KIT_STORAGE_URL; default "+storage.DefaultURL+")")
	s := &storageCmd{app: a, url: func() string {
		if storageURL != "" {
			return storageURL
		}
		return envOr("KIT_STORAGE_URL", storage.DefaultURL)
	}}
	cmd.AddCommand(s.lsCommand(), s.putCommand(), s.getCommand(), s.rmCommand(), s.urlCommand(), s.collectstaticCommand())
	return cmd
}

type storageCmd struct {
	app *app
	url func() string
}

func (s *storageCmd) open(cmd *cobra.Command) (*storage.Storage, error) {
	logger, err := s.app.logger(cmd.ErrOrStderr())
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(cmd.Context(), s.url(), storage.WithLogger(logger))
	if err != nil {
		// Open's errors show the URL redacted.
		return nil, err
	}
	return st, nil
}

// where names the storage in messages, secrets redacted.
func (s *storageCmd) where() string { return registry.Redact(s.url()) }

// checkNames validates names before anything is done, so a bad one in a list changes nothing;
// an invalid name is a usage error (exit 2).
func checkNames(st *storage.Storage, names ...string) error {
	for _, n := range names {
		if err := st.ValidateName(n); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// usageIfInvalid turns an invalid name or prefix reported by the storage into a usage error.
func usageIfInvalid(err error) error {
	if errors.Is(err, storage.ErrInvalidName) {
		return usageError{err}
	}
	return err
}

func (s *storageCmd) lsCommand() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "ls [PREFIX]",
		Short: "List objects, like aws s3 ls: one level by default, everything with --recursive",
		Long: `List the objects whose names start with PREFIX, in name order. As with "aws s3 ls", only one
level is listed unless --recursive: names with a "/" after the prefix are rolled up into one
"PRE dir/" line. "ls img" lists the entry img/ itself; "ls img/" lists what is inside.

Each object line is: modification time (UTC), size in bytes, name. Names are printed in full (not
relative to the prefix, unlike aws s3 ls), so they can be passed back to get and rm.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one PREFIX, got %q", cmd.CommandPath(), args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			opts := &storage.ListOptions{}
			if len(args) == 1 {
				opts.Prefix = args[0]
			}
			if !recursive {
				opts.Delimiter = "/"
			}
			// Fixed columns, as aws s3 ls prints them, written as the pages arrive.
			out := bufio.NewWriter(cmd.OutOrStdout())
			for obj, err := range st.List(cmd.Context(), opts) {
				if err != nil {
					_ = out.Flush()
					return usageIfInvalid(fmt.Errorf("list %s: %w", s.where(), err))
				}
				if obj.IsDir {
					fmt.Fprintf(out, "%19s %10s %s\n", "", "PRE", obj.Name)
					continue
				}
				fmt.Fprintf(out, "%19s %10d %s\n", obj.ModTime.UTC().Format(time.DateTime), obj.Size, obj.Name)
			}
			return out.Flush()
		},
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "list every object under PREFIX, not one level")
	return cmd
}

func (s *storageCmd) putCommand() *cobra.Command {
	var contentType, cacheControl string
	var noClobber bool
	cmd := &cobra.Command{
		Use:   "put LOCAL NAME",
		Short: `Upload the file LOCAL ("-" for stdin) as NAME, streamed`,
		Long: `Upload the file LOCAL ("-" for standard input) as the object NAME, replacing it. The content is
streamed: any size moves in constant memory (on s3://, part_size × concurrency). NAME only appears
once the whole upload succeeded; an interrupted upload (Ctrl-C) leaves the previous object as it was.
The content type is --content-type, else guessed from NAME's extension, else from the content.`,
		Args: exactArgs(2, "LOCAL and NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			local, name := args[0], args[1]
			st, err := s.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := checkNames(st, name); err != nil {
				return err
			}
			var in io.Reader = cmd.InOrStdin()
			opts := &storage.WriterOptions{ContentType: contentType, CacheControl: cacheControl, IfNotExist: noClobber}
			if local != "-" {
				f, err := os.Open(local)
				if err != nil {
					return err
				}
				defer f.Close()
				fi, err := f.Stat()
				if err != nil {
					return err
				}
				if fi.IsDir() {
					return usagef("%s is a directory; put uploads one file (use collectstatic for directories)", local)
				}
				if fi.Mode().IsRegular() {
					opts.Size = fi.Size() // lets s3:// size its parts for files of any size
				}
				in = f
			}
			w, err := st.Create(cmd.Context(), name, opts)
			if err != nil {
				return usageIfInvalid(err)
			}
			n, err := io.Copy(w, in)
			if err != nil {
				_ = w.Abort()
				return fmt.Errorf("put %s: %w", name, err)
			}
			if err := w.Close(); err != nil {
				if errors.Is(err, storage.ErrExist) {
					return exitError{ExitFailure, fmt.Errorf("put %s: it already exists (--no-clobber): %w", name, err)}
				}
				return fmt.Errorf("put %s: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "put %s (%d bytes) in %s\n", name, n, s.where())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&contentType, "content-type", "", "the object's content type (default: from NAME's extension or the content)")
	f.StringVar(&cacheControl, "cache-control", "", "the object's Cache-Control")
	f.BoolVar(&noClobber, "no-clobber", false, "fail if NAME exists (atomically where the backend can)")
	return cmd
}

func (s *storageCmd) getCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get NAME LOCAL",
		Short: `Download NAME to the file LOCAL ("-" for stdout), streamed`,
		Long: `Download the object NAME to the file LOCAL ("-" for standard output); if LOCAL is a directory,
to the file of NAME's base name in it. The content is streamed into a temporary file beside LOCAL,
which replaces LOCAL only once the whole object has arrived: a failed or interrupted download
leaves LOCAL as it was.`,
		Args: exactArgs(2, "NAME and LOCAL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name, local := args[0], args[1]
			st, err := s.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := checkNames(st, name); err != nil {
				return err
			}
			r, err := st.Open(cmd.Context(), name)
			if err != nil {
				return usageIfInvalid(err)
			}
			defer r.Close()
			if local == "-" {
				if _, err := io.Copy(cmd.OutOrStdout(), r); err != nil {
					return fmt.Errorf("get %s: %w", name, err)
				}
				return r.Close()
			}
			if fi, err := os.Stat(local); err == nil && fi.IsDir() {
				local = filepath.Join(local, path.Base(name))
			}
			n, err := downloadTo(local, r)
			if err != nil {
				return fmt.Errorf("get %s: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "got %s (%d bytes) into %s\n", name, n, local)
			return nil
		},
	}
	return cmd
}

// downloadTo streams r into a temporary file in file's directory and renames it to file
// once r is read to the end, synced and closed, so file never holds a partial download.
func downloadTo(file string, r io.ReadCloser) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".kitctl-*")
	if err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	n, err := io.Copy(tmp, r)
	if err != nil {
		return n, err
	}
	if err := r.Close(); err != nil { // the object was read to its end without error
		return n, err
	}
	// CreateTemp makes the file 0600; a download is an ordinary file.
	if err := tmp.Chmod(0o644); err != nil {
		return n, err
	}
	if err := tmp.Sync(); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return n, err
	}
	done = true
	return n, nil
}

func (s *storageCmd) rmCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rm NAME...",
		Short: "Delete objects (a missing one is not an error)",
		Long: `Delete the objects NAME... Every name is checked first: if one is invalid, nothing is deleted.
Deleting a missing object is not an error.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%s needs at least one NAME", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := s.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := checkNames(st, args...); err != nil {
				return err
			}
			for _, name := range args {
				if err := st.Delete(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", name)
			}
			return nil
		},
	}
}

func (s *storageCmd) urlCommand() *cobra.Command {
	var signed bool
	var expires time.Duration
	var method, contentType string
	cmd := &cobra.Command{
		Use:   "url NAME",
		Short: "Print NAME's public URL, or with --signed a URL that grants access until it expires",
		Long: `Print the public URL of NAME (the storage's base_url followed by the name), or with --signed a
signed URL that lets anyone holding it GET (or PUT, with --method PUT) the object until --expires
has passed, without other credentials: S3 presigns it; file:// and mem:// need the storage's secret
option and serve it with their signed-URL handler. The URL is printed whether or not the object
exists (a signed PUT is how one is uploaded).`,
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			method = strings.ToUpper(method)
			if method != http.MethodGet && method != http.MethodPut {
				return usagef("--method %q: want GET or PUT", method)
			}
			if !signed && (cmd.Flags().Changed("expires") || cmd.Flags().Changed("method") || contentType != "") {
				return usagef("--expires, --method and --content-type need --signed")
			}
			if signed && (expires <= 0 || expires > storage.MaxSignedURLExpiry) {
				return usagef("--expires %s: want more than 0 and at most %s", expires, storage.MaxSignedURLExpiry)
			}
			st, err := s.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := checkNames(st, name); err != nil {
				return err
			}
			var u string
			if signed {
				u, err = st.SignedURL(cmd.Context(), name, &storage.SignedURLOptions{Method: method, Expiry: expires, ContentType: contentType})
			} else {
				u, err = st.URL(name)
			}
			if err != nil {
				return usageIfInvalid(err)
			}
			fmt.Fprintln(cmd.OutOrStdout(), u)
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&signed, "signed", false, "print a signed URL that expires")
	f.DurationVar(&expires, "expires", time.Hour, "how long a signed URL stays valid (at most 168h)")
	f.StringVar(&method, "method", http.MethodGet, "what a signed URL allows: GET or PUT")
	f.StringVar(&contentType, "content-type", "", "for a signed PUT: the Content-Type the upload must carry")
	return cmd
}

func (s *storageCmd) collectstaticCommand() *cobra.Command {
	var (
		from                  []string
		o                     static.Options
		ignore                []string
		noDefaultIgnore, list bool
	)
	cmd := &cobra.Command{
		Use:   "collectstatic --from DIR...",
		Short: "Collect static files into the storage with content-hashed names and a manifest",
		Long: `Copy the static files of the --from directories into the storage, as Django's collectstatic with
ManifestStaticFilesStorage does: each file under its own name and a content-hashed copy
(app.3f2a9c1b7e4d.css) whose references in CSS are rewritten, plus the manifest staticfiles.json
that kit/storage/static's Manifest and Handler read. When a name is in several directories, the
first --from wins. Files whose content has not changed are not uploaded again.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(from) == 0 {
				return usagef("%s needs at least one --from DIR", cmd.CommandPath())
			}
			if o.Concurrency < 1 {
				return usagef("--concurrency %d: want at least 1", o.Concurrency)
			}
			srcs := make([]fs.FS, len(from))
			for i, dir := range from {
				fi, err := os.Stat(dir)
				if err != nil {
					return usageError{fmt.Errorf("--from %s: %w", dir, err)}
				}
				if !fi.IsDir() {
					return usagef("--from %s: not a directory", dir)
				}
				srcs[i] = os.DirFS(dir)
			}
			switch {
			case noDefaultIgnore:
				o.Ignore = append([]string{}, ignore...)
			case len(ignore) > 0:
				o.Ignore = append(append([]string{}, static.DefaultIgnore...), ignore...)
			}
			st, err := s.open(cmd)
			if err != nil {
				return err
			}
			defer st.Close()
			rep, err := static.Collect(cmd.Context(), st, srcs, &o)
			if err != nil {
				return usageIfInvalid(fmt.Errorf("collectstatic into %s: %w", s.where(), err))
			}
			out := cmd.OutOrStdout()
			if list {
				for _, group := range []struct {
					what  string
					names []string
				}{{"copied", rep.Copied}, {"post-processed", rep.PostProcessed}, {"unmodified", rep.Unmodified}, {"deleted", rep.Deleted}} {
					for _, n := range group.names {
						fmt.Fprintf(out, "%s %s\n", group.what, n)
					}
				}
			}
			for _, sh := range rep.Shadowed {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: found in several directories; using %s\n", sh.Name, from[sh.Used])
			}
			fmt.Fprintf(out, "%s (%s)\n", rep, s.where())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&from, "from", nil, "a directory of static files (repeatable; the first wins for a name)")
	f.BoolVar(&o.DryRun, "dry-run", false, "report what would be done; write and delete nothing")
	f.BoolVar(&o.Clear, "clear", false, "delete every object in the storage first (it must hold only static files)")
	f.BoolVar(&o.Prune, "prune", false, "delete, after collecting, the objects that are not part of this collection")
	f.BoolVar(&o.Gzip, "gzip", false, "store a .gz variant beside compressible files")
	f.StringVar(&o.StaticURL, "static-url", "", `where the files are served (STATIC_URL, e.g. "/static/"), for rewriting CSS references`)
	f.StringArrayVar(&ignore, "ignore", nil, `a glob of file or directory names to skip (repeatable; added to ".*", "*~", "CVS")`)
	f.BoolVar(&noDefaultIgnore, "no-default-ignore", false, `do not skip ".*", "*~" and "CVS"`)
	f.IntVar(&o.Concurrency, "concurrency", 4, "uploads at a time")
	f.BoolVarP(&list, "verbose", "v", false, "list every file copied, post-processed, unmodified or deleted")
	return cmd
}
