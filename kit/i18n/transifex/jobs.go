package transifex

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Modes are the values of a translation download's mode, as the API's enum has them.
var Modes = []string{"default", "reviewed", "proofread", "translator", "untranslated", "onlytranslated", "onlyreviewed", "onlyproofread", "sourceastranslation"}

// ValidMode reports whether mode is one of Modes.
func ValidMode(mode string) bool { return slices.Contains(Modes, mode) }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// job is an asynchronous job's state as a poll returns it.
type jobAttributes struct {
	Status  string          `json:"status"`
	Errors  []ErrorObject   `json:"errors"`
	Details json.RawMessage `json:"details"`
}

// startJob POSTs a job and returns where to poll it: the Content-Location header, or the
// object's self link.
func (c *Client) startJob(ctx context.Context, kind string, data Object) (*url.URL, error) {
	u := c.endpoint("/"+kind, nil)
	doc, resp, err := c.document(ctx, http.MethodPost, u, map[string]any{"data": data}, http.StatusAccepted)
	if err != nil {
		return nil, err
	}
	o, err := doc.one(kind)
	if err != nil {
		return nil, err
	}
	loc := resp.header.Get("Content-Location")
	if loc == "" {
		loc = string(o.Links.Self)
	}
	if loc == "" {
		loc = "/" + kind + "/" + url.PathEscape(o.ID)
	}
	return c.resolve(loc)
}

// pollJob polls a job until it succeeds (200 with "succeeded", or a 303 whose Location it
// returns) or fails (a *JobError with the job's errors), waiting with the poll backoff.
func (c *Client) pollJob(ctx context.Context, kind string, u *url.URL) (json.RawMessage, *url.URL, error) {
	for n := 0; ; n++ {
		resp, err := c.call(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, nil, err
		}
		if resp.status == http.StatusSeeOther {
			loc := resp.header.Get("Location")
			if loc == "" {
				return nil, nil, fmt.Errorf("transifex: %s job answered 303 without a Location", kind)
			}
			target, err := resp.url.Parse(loc)
			if err != nil {
				return nil, nil, fmt.Errorf("transifex: %s job's Location %q: %w", kind, redactURL(loc), err)
			}
			return nil, target, nil
		}
		if resp.status != http.StatusOK {
			return nil, nil, fmt.Errorf("transifex: GET %s: unexpected status %d %s", u.Path, resp.status, http.StatusText(resp.status))
		}
		doc, _, err := decodeDocument(http.MethodGet, u, resp)
		if err != nil {
			return nil, nil, err
		}
		o, err := doc.one(kind)
		if err != nil {
			return nil, nil, err
		}
		var a jobAttributes
		if err := o.decodeAttributes(&a); err != nil {
			return nil, nil, err
		}
		switch a.Status {
		case "succeeded":
			return a.Details, nil, nil
		case "failed":
			return nil, nil, &JobError{Kind: kind, ID: o.ID, Errors: a.Errors}
		case "pending", "processing":
		default:
			return nil, nil, fmt.Errorf("transifex: %s job %s has unknown status %q", kind, o.ID, a.Status)
		}
		if err := c.sleep(ctx, c.poll.Delay(n), "job still "+a.Status); err != nil {
			return nil, nil, err
		}
	}
}

// DownloadRequest asks for one translation file.
type DownloadRequest struct {
	Resource string // "o:org:p:proj:r:res"
	Language string // code ("de")
	Mode     string // one of Modes; "" is "default"
	FileType string // "default" (the resource's own format), "xliff" or "json"; "" is "default"
}

// DownloadTranslation runs a translation download job: create it, poll it with backoff until it
// answers 303, then fetch the file from the Location with a separate HTTP client that sends no
// Authorization (the file host is not the API's). Only a 200 is accepted; the bytes are returned
// unvalidated (Pull validates them against the resource's type).
func (c *Client) DownloadTranslation(ctx context.Context, r DownloadRequest) ([]byte, error) {
	what := fmt.Sprintf("the download of %s [%s]", r.Resource, r.Language)
	ctx, cancel := c.withOperation(ctx, what)
	defer cancel()
	if r.Mode == "" {
		r.Mode = "default"
	}
	if !ValidMode(r.Mode) {
		return nil, configErrorf("mode %q: want one of %s", r.Mode, strings.Join(Modes, ", "))
	}
	if r.FileType == "" {
		r.FileType = "default"
	}
	loc, err := c.startJob(ctx, "resource_translations_async_downloads", Object{
		Type:       "resource_translations_async_downloads",
		Attributes: mustJSON(map[string]any{"content_encoding": "text", "file_type": r.FileType, "mode": r.Mode}),
		Relationships: map[string]Relationship{
			"resource": rel("resources", r.Resource),
			"language": rel("languages", languageID(r.Language)),
		},
	})
	if err != nil {
		return nil, err
	}
	_, file, err := c.pollJob(ctx, "resource_translations_async_downloads", loc)
	if err != nil {
		return nil, err
	}
	if file == nil {
		return nil, fmt.Errorf("transifex: %s: the job succeeded without a file link", what)
	}
	return c.fetchFile(ctx, file, what)
}

// fetchFile GETs a file from the file host without credentials, retrying 502/503/504 and
// connection failures. Any status but 200 is ErrInvalidFile.
func (c *Client) fetchFile(ctx context.Context, u *url.URL, what string) ([]byte, error) {
	where := u.Scheme + "://" + u.Host + u.Path
	var lastErr error
	for attempt := 0; attempt < c.attempts; attempt++ {
		if attempt > 0 {
			if err := c.sleep(ctx, c.retry.Delay(attempt-1), "retrying the file download"); err != nil {
				return nil, fmt.Errorf("%w; %w", lastErr, err)
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, fmt.Errorf("transifex: %s: file link %s: %w", what, where, err)
		}
		req.Header.Set("User-Agent", c.userAgent)
		req.Header.Set("Accept", "*/*")
		res, err := c.files.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctxError(ctx, ctx.Err())
			}
			lastErr = fmt.Errorf("transifex: %s: GET %s: %w (%w)", what, where, unwrapURLError(err), ErrUnavailable)
			continue
		}
		data, rerr := io.ReadAll(io.LimitReader(res.Body, c.maxFileSize+1))
		res.Body.Close()
		switch {
		case res.StatusCode == http.StatusBadGateway || res.StatusCode == http.StatusServiceUnavailable || res.StatusCode == http.StatusGatewayTimeout:
			lastErr = fmt.Errorf("transifex: %s: GET %s: %d %s: %w", what, where, res.StatusCode, http.StatusText(res.StatusCode), ErrUnavailable)
			continue
		case res.StatusCode != http.StatusOK:
			return nil, fmt.Errorf("%w: %s: GET %s answered %d %s, want 200", ErrInvalidFile, what, where, res.StatusCode, http.StatusText(res.StatusCode))
		case rerr != nil:
			if ctx.Err() != nil {
				return nil, ctxError(ctx, ctx.Err())
			}
			lastErr = fmt.Errorf("transifex: %s: reading %s: %w", what, where, rerr)
			continue
		case int64(len(data)) > c.maxFileSize:
			return nil, fmt.Errorf("%w: %s: file larger than %d bytes", ErrInvalidFile, what, c.maxFileSize)
		}
		c.logger.LogAttrs(ctx, slog.LevelDebug, "transifex: file downloaded", slog.String("what", what), slog.Int("bytes", len(data)))
		return data, nil
	}
	return nil, lastErr
}

// SourceUpload is a source file to upload to a resource.
type SourceUpload struct {
	Resource             string
	Content              []byte
	KeepTranslations     bool
	ReplaceEditedStrings bool
	PurgeAddedStrings    bool
}

// SourceUploadResult are the counts a finished source upload reports.
type SourceUploadResult struct {
	Created int `json:"strings_created"`
	Updated int `json:"strings_updated"`
	Skipped int `json:"strings_skipped"`
	Deleted int `json:"strings_deleted"`
}

// UploadSource uploads a resource's source file (resource_strings_async_uploads) and waits for
// the job.
func (c *Client) UploadSource(ctx context.Context, u SourceUpload) (*SourceUploadResult, error) {
	ctx, cancel := c.withOperation(ctx, "the source upload of "+u.Resource)
	defer cancel()
	attrs := map[string]any{
		"content": base64.StdEncoding.EncodeToString(u.Content), "content_encoding": "base64",
		"keep_translations": u.KeepTranslations, "replace_edited_strings": u.ReplaceEditedStrings,
		"purge_added_strings": u.PurgeAddedStrings,
	}
	loc, err := c.startJob(ctx, "resource_strings_async_uploads", Object{
		Type: "resource_strings_async_uploads", Attributes: mustJSON(attrs),
		Relationships: map[string]Relationship{"resource": rel("resources", u.Resource)},
	})
	if err != nil {
		return nil, err
	}
	details, _, err := c.pollJob(ctx, "resource_strings_async_uploads", loc)
	if err != nil {
		return nil, err
	}
	var r SourceUploadResult
	if len(details) > 0 && string(details) != "null" {
		if err := json.Unmarshal(details, &r); err != nil {
			return nil, fmt.Errorf("transifex: source upload details: %w", err)
		}
	}
	return &r, nil
}

// TranslationUpload is a translation file to upload.
type TranslationUpload struct {
	Resource string
	Language string
	Content  []byte
}

// TranslationUploadResult are the counts a finished translation upload reports.
type TranslationUploadResult struct {
	Created int `json:"translations_created"`
	Updated int `json:"translations_updated"`
}

// UploadTranslation uploads one language's translation file
// (resource_translations_async_uploads) and waits for the job.
func (c *Client) UploadTranslation(ctx context.Context, u TranslationUpload) (*TranslationUploadResult, error) {
	ctx, cancel := c.withOperation(ctx, fmt.Sprintf("the translation upload of %s [%s]", u.Resource, u.Language))
	defer cancel()
	loc, err := c.startJob(ctx, "resource_translations_async_uploads", Object{
		Type: "resource_translations_async_uploads",
		Attributes: mustJSON(map[string]any{
			"content": base64.StdEncoding.EncodeToString(u.Content), "content_encoding": "base64", "file_type": "default",
		}),
		Relationships: map[string]Relationship{
			"resource": rel("resources", u.Resource),
			"language": rel("languages", languageID(u.Language)),
		},
	})
	if err != nil {
		return nil, err
	}
	details, _, err := c.pollJob(ctx, "resource_translations_async_uploads", loc)
	if err != nil {
		return nil, err
	}
	var r TranslationUploadResult
	if len(details) > 0 && string(details) != "null" {
		if err := json.Unmarshal(details, &r); err != nil {
			return nil, fmt.Errorf("transifex: translation upload details: %w", err)
		}
	}
	return &r, nil
}
