package mailtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	kitmail "github.com/stackkit/stackkit/kit/mail"
)

// Received is one message as a backend delivered it.
type Received struct {
	// From is the envelope sender, "" when the backend does not record it.
	From string
	// Recipients are the envelope recipients (Bcc included), nil when the backend does not
	// record them (file://).
	Recipients []string
	// Data is the message as received.
	Data []byte
}

// MessageID returns the message's Message-ID without angle brackets, "" if it has none.
func (r Received) MessageID() string {
	m, err := mail.ReadMessage(bytes.NewReader(r.Data))
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(m.Header.Get("Message-Id")), "<"), ">")
}

// Inbox reads back what a Mailer sent.
type Inbox interface {
	// Received returns the messages received with this Message-ID (without angle brackets),
	// waiting until there is at least one or ctx is done; then it returns what it has (maybe
	// nothing) with ctx's error.
	Received(ctx context.Context, messageID string) ([]Received, error)
}

// InboxFunc adapts a function to Inbox.
type InboxFunc func(ctx context.Context, messageID string) ([]Received, error)

// Received implements Inbox.
func (f InboxFunc) Received(ctx context.Context, messageID string) ([]Received, error) {
	return f(ctx, messageID)
}

// MemoryInbox reads a memory:// outbox.
func MemoryInbox(m *kitmail.Memory) Inbox {
	return InboxFunc(func(ctx context.Context, id string) ([]Received, error) {
		for n := 1; ; n++ {
			var out []Received
			sent := m.Messages()
			for _, e := range sent {
				if e.MessageID == id {
					out = append(out, Received{From: e.From, Recipients: slices.Clone(e.To), Data: e.Data})
				}
			}
			if len(out) > 0 {
				return out, nil
			}
			if _, err := m.Wait(ctx, len(sent)+1); err != nil {
				return nil, err
			}
		}
	})
}

// DirInbox reads the .eml files of a file:// directory (polling every 20ms).
func DirInbox(dir string) Inbox {
	return pollInbox(func(ctx context.Context, id string) ([]Received, error) {
		files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
		if err != nil {
			return nil, err
		}
		slices.Sort(files)
		var out []Received
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			if r := (Received{Data: data}); r.MessageID() == id {
				out = append(out, r)
			}
		}
		return out, nil
	})
}

// MailpitInbox reads messages from Mailpit's API at apiURL (KIT_TEST_MAILPIT_API): it searches
// by Message-ID and fetches each message's raw source. Recipients are Mailpit's To, Cc and Bcc
// (the envelope recipients not in a header).
//
// Mailpit stores a message with the fields it added on receipt in front of it: Return-Path,
// Received (which names a single recipient), and a Bcc field listing the envelope recipients
// that no header names. Data is the message as the client sent it: those leading fields are
// removed. (A message kit/mail writes never starts with them: its first field is Date or an
// extra header sorted before it.)
func MailpitInbox(apiURL string) Inbox {
	base := strings.TrimSuffix(apiURL, "/")
	client := &http.Client{Timeout: 10 * time.Second}
	get := func(ctx context.Context, path string) ([]byte, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return nil, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("mailpit GET %s: %s: %s", path, resp.Status, body)
		}
		return body, nil
	}
	type addr struct{ Address string }
	return pollInbox(func(ctx context.Context, id string) ([]Received, error) {
		body, err := get(ctx, "/api/v1/search?query="+url.QueryEscape("message-id:\""+id+"\""))
		if err != nil {
			return nil, err
		}
		var list struct {
			Messages []struct {
				ID        string
				MessageID string
				From      *addr
				To, Cc    []addr
				Bcc       []addr
			} `json:"messages"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, fmt.Errorf("mailpit search: %w", err)
		}
		var out []Received
		for _, m := range list.Messages {
			if m.MessageID != id {
				continue
			}
			raw, err := get(ctx, "/api/v1/message/"+url.PathEscape(m.ID)+"/raw")
			if err != nil {
				return nil, err
			}
			r := Received{Data: stripTrace(raw), Recipients: []string{}}
			if m.From != nil {
				r.From = m.From.Address
			}
			for _, l := range [][]addr{m.To, m.Cc, m.Bcc} {
				for _, a := range l {
					r.Recipients = append(r.Recipients, a.Address)
				}
			}
			out = append(out, r)
		}
		return out, nil
	})
}

// pollInbox turns a lookup into an Inbox that retries every 20ms until it finds something.
func pollInbox(find func(ctx context.Context, id string) ([]Received, error)) Inbox {
	return InboxFunc(func(ctx context.Context, id string) ([]Received, error) {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for first := true; ; first = false {
			lookupCtx, cancel := ctx, context.CancelFunc(func() {})
			if first {
				// Look once even when ctx is already done: that is how a test asks "is it
				// there now?" without waiting.
				lookupCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			}
			out, err := find(lookupCtx, id)
			cancel()
			if err != nil && ctx.Err() == nil {
				return nil, err
			}
			if len(out) > 0 {
				return out, nil
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	})
}

// stripTrace removes the header fields a receiving server put in front of the message: Bcc,
// Return-Path and Received, with their continuation lines.
func stripTrace(data []byte) []byte {
	for {
		eol := bytes.IndexByte(data, '\n')
		if eol < 0 {
			return data
		}
		name, _, ok := bytes.Cut(data[:eol], []byte(":"))
		if !ok {
			return data
		}
		switch strings.ToLower(string(name)) {
		case "bcc", "return-path", "received":
		default:
			return data
		}
		data = data[eol+1:]
		for len(data) > 0 && (data[0] == ' ' || data[0] == '\t') {
			eol = bytes.IndexByte(data, '\n')
			if eol < 0 {
				return nil
			}
			data = data[eol+1:]
		}
	}
}
