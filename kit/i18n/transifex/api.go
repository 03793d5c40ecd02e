package transifex

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Project is a Transifex project.
type Project struct {
	ID             string // "o:org:p:proj"
	Slug           string
	Name           string
	SourceLanguage string // language code ("en")
}

// Resource is a resource of a project.
type Resource struct {
	ID               string // "o:org:p:proj:r:res"
	Slug             string
	Name             string
	Project          string
	Format           string // i18n format ("PO"), when the API names it
	StringCount      int
	DatetimeModified time.Time
}

// LanguageStats are a resource's statistics in one language (resource_language_stats).
type LanguageStats struct {
	Resource              string    `json:"resource"`
	Language              string    `json:"language"` // code ("pt_BR")
	LastUpdate            time.Time `json:"last_update"`
	LastTranslationUpdate time.Time `json:"last_translation_update,omitzero"`
	LastReviewUpdate      time.Time `json:"last_review_update,omitzero"`
	LastProofreadUpdate   time.Time `json:"last_proofread_update,omitzero"`
	TotalStrings          int       `json:"total_strings"`
	TranslatedStrings     int       `json:"translated_strings"`
	ReviewedStrings       int       `json:"reviewed_strings"`
	ProofreadStrings      int       `json:"proofread_strings"`
	UntranslatedStrings   int       `json:"untranslated_strings"`
	TotalWords            int       `json:"total_words"`
	TranslatedWords       int       `json:"translated_words"`
	ReviewedWords         int       `json:"reviewed_words"`
	ProofreadWords        int       `json:"proofread_words"`
	UntranslatedWords     int       `json:"untranslated_words"`
}

// Percent is the share of strings done for mode, as tx computes it for minimum_perc: reviewed
// strings for the reviewed modes, proofread strings for the proofread ones, translated strings
// otherwise. A resource without strings is 100% done.
func (s LanguageStats) Percent(mode string) float64 {
	if s.TotalStrings == 0 {
		return 100
	}
	n := s.TranslatedStrings
	switch mode {
	case "reviewed", "onlyreviewed":
		n = s.ReviewedStrings
	case "proofread", "onlyproofread":
		n = s.ProofreadStrings
	}
	return float64(n) * 100 / float64(s.TotalStrings)
}

// Project fetches a project by ID ("o:org:p:proj").
func (c *Client) Project(ctx context.Context, id string) (*Project, error) {
	o, err := c.fetch(ctx, "project", "projects", id)
	if err != nil {
		return nil, err
	}
	var a struct {
		Slug string `json:"slug"`
		Name string `json:"name"`
	}
	if err := o.decodeAttributes(&a); err != nil {
		return nil, err
	}
	p := &Project{ID: o.ID, Slug: a.Slug, Name: a.Name, SourceLanguage: languageCode(o.related("source_language"))}
	if p.SourceLanguage == "" {
		return nil, fmt.Errorf("transifex: project %s names no source language", id)
	}
	return p, nil
}

// fetch GETs the object id of collection ("projects", "resources"), as one operation named
// after what ("fetching project o:org:p:proj").
func (c *Client) fetch(ctx context.Context, what, collection, id string) (*Object, error) {
	ctx, cancel := c.withOperation(ctx, "fetching "+what+" "+id)
	defer cancel()
	doc, _, err := c.document(ctx, http.MethodGet, c.endpoint("/"+collection+"/"+url.PathEscape(id), nil), nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	return doc.one(collection)
}

type resourceAttributes struct {
	Slug             string    `json:"slug"`
	Name             string    `json:"name"`
	StringCount      float64   `json:"string_count"`
	DatetimeModified time.Time `json:"datetime_modified"`
}

func resourceFrom(o *Object) (*Resource, error) {
	var a resourceAttributes
	if err := o.decodeAttributes(&a); err != nil {
		return nil, err
	}
	return &Resource{
		ID: o.ID, Slug: a.Slug, Name: a.Name, Project: o.related("project"), Format: o.related("i18n_format"),
		StringCount: int(a.StringCount), DatetimeModified: a.DatetimeModified,
	}, nil
}

// Resource fetches a resource by ID ("o:org:p:proj:r:res"); errors.Is(err, ErrNotFound) when
// it does not exist.
func (c *Client) Resource(ctx context.Context, id string) (*Resource, error) {
	o, err := c.fetch(ctx, "resource", "resources", id)
	if err != nil {
		return nil, err
	}
	return resourceFrom(o)
}

// Resources lists a project's resources, every page.
func (c *Client) Resources(ctx context.Context, project string) ([]Resource, error) {
	ctx, cancel := c.withOperation(ctx, "listing the resources of "+project)
	defer cancel()
	var out []Resource
	for o, err := range c.list(ctx, "/resources", url.Values{"filter[project]": {project}}) {
		if err != nil {
			return nil, err
		}
		r, err := resourceFrom(&o)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// NewResource describes a resource to create.
type NewResource struct {
	Project string // "o:org:p:proj"
	Slug    string
	Name    string
	Format  string // i18n format, as .tx/config's type ("PO")
}

// CreateResource creates a resource, as tx push does for a resource the project lacks.
func (c *Client) CreateResource(ctx context.Context, nr NewResource) (*Resource, error) {
	ctx, cancel := c.withOperation(ctx, "creating resource "+nr.Slug)
	defer cancel()
	body := map[string]any{"data": Object{
		Type:       "resources",
		Attributes: mustJSON(map[string]any{"slug": nr.Slug, "name": nr.Name}),
		Relationships: map[string]Relationship{
			"project":     rel("projects", nr.Project),
			"i18n_format": rel("i18n_formats", strings.ToUpper(nr.Format)),
		},
	}}
	doc, _, err := c.document(ctx, http.MethodPost, c.endpoint("/resources", nil), body, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	o, err := doc.one("resources")
	if err != nil {
		return nil, err
	}
	return resourceFrom(o)
}

type statsAttributes struct {
	LastUpdate            time.Time  `json:"last_update"`
	LastTranslationUpdate *time.Time `json:"last_translation_update"`
	LastReviewUpdate      *time.Time `json:"last_review_update"`
	LastProofreadUpdate   *time.Time `json:"last_proofread_update"`
	TotalStrings          float64    `json:"total_strings"`
	TranslatedStrings     float64    `json:"translated_strings"`
	ReviewedStrings       float64    `json:"reviewed_strings"`
	ProofreadStrings      float64    `json:"proofread_strings"`
	UntranslatedStrings   float64    `json:"untranslated_strings"`
	TotalWords            float64    `json:"total_words"`
	TranslatedWords       float64    `json:"translated_words"`
	ReviewedWords         float64    `json:"reviewed_words"`
	ProofreadWords        float64    `json:"proofread_words"`
	UntranslatedWords     float64    `json:"untranslated_words"`
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// StatsFilter narrows ResourceLanguageStats.
type StatsFilter struct {
	Resource string // "o:org:p:proj:r:res"; "" for every resource of the project
	Language string // code; "" for every language
}

// ResourceLanguageStats lists the statistics of a project's resources per language (the source
// language included), every page.
func (c *Client) ResourceLanguageStats(ctx context.Context, project string, f StatsFilter) ([]LanguageStats, error) {
	ctx, cancel := c.withOperation(ctx, "fetching the statistics of "+project)
	defer cancel()
	q := url.Values{"filter[project]": {project}}
	if f.Resource != "" {
		q.Set("filter[resource]", f.Resource)
	}
	if f.Language != "" {
		q.Set("filter[language]", languageID(f.Language))
	}
	var out []LanguageStats
	for o, err := range c.list(ctx, "/resource_language_stats", q) {
		if err != nil {
			return nil, err
		}
		if o.Type != "resource_language_stats" {
			return nil, fmt.Errorf("transifex: statistics list holds a %q object", o.Type)
		}
		var a statsAttributes
		if err := o.decodeAttributes(&a); err != nil {
			return nil, err
		}
		res, lang := o.related("resource"), languageCode(o.related("language"))
		if res == "" || lang == "" {
			// The ID is "<resource id>:l:<code>"; relationships are required, but be lenient.
			if i := strings.LastIndex(o.ID, ":l:"); i > 0 {
				res, lang = o.ID[:i], o.ID[i+3:]
			}
		}
		out = append(out, LanguageStats{
			Resource: res, Language: lang, LastUpdate: a.LastUpdate,
			LastTranslationUpdate: deref(a.LastTranslationUpdate), LastReviewUpdate: deref(a.LastReviewUpdate),
			LastProofreadUpdate: deref(a.LastProofreadUpdate),
			TotalStrings:        int(a.TotalStrings), TranslatedStrings: int(a.TranslatedStrings),
			ReviewedStrings: int(a.ReviewedStrings), ProofreadStrings: int(a.ProofreadStrings),
			UntranslatedStrings: int(a.UntranslatedStrings), TotalWords: int(a.TotalWords),
			TranslatedWords: int(a.TranslatedWords), ReviewedWords: int(a.ReviewedWords),
			ProofreadWords: int(a.ProofreadWords), UntranslatedWords: int(a.UntranslatedWords),
		})
	}
	return out, nil
}
