package transifex

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// DefaultStateFile is where Pull records what it pulled, relative to the project's root, beside
// .tx/config.
const DefaultStateFile = ".tx/kit-pull-state.json"

const stateVersion = 1

// PullState is the record of the last successful pull of each (resource, language): the remote
// statistics it was pulled at and the digest of the bytes written. A later pull skips a file whose
// remote statistics and mode are unchanged and whose local bytes are still the ones written —
// file modification times play no part (a checkout or a copy changes those).
type PullState struct {
	Version int                   `json:"version"`
	Files   map[string]StateEntry `json:"files"`
}

// StateEntry is one pulled file.
type StateEntry struct {
	Resource          string    `json:"resource"`
	Language          string    `json:"language"`
	Path              string    `json:"path"`
	Mode              string    `json:"mode"`
	SHA256            string    `json:"sha256"`
	LastUpdate        time.Time `json:"last_update"`
	TotalStrings      int       `json:"total_strings"`
	TranslatedStrings int       `json:"translated_strings"`
	ReviewedStrings   int       `json:"reviewed_strings"`
	ProofreadStrings  int       `json:"proofread_strings"`
	PulledAt          time.Time `json:"pulled_at"`
}

func stateKey(resource, language string) string { return resource + " " + language }

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// unchanged reports whether e still describes the remote stats s in mode at path.
func (e StateEntry) unchanged(s LanguageStats, mode, path string) bool {
	return e.Mode == mode && e.Path == path && e.LastUpdate.Equal(s.LastUpdate) &&
		e.TotalStrings == s.TotalStrings && e.TranslatedStrings == s.TranslatedStrings &&
		e.ReviewedStrings == s.ReviewedStrings && e.ProofreadStrings == s.ProofreadStrings
}

// ReadState reads the pull state Pull keeps in d under name (DefaultStateFile unless
// PullOptions.StateFile said otherwise); a missing state is empty. A sync worker reads it to know
// every file pulled so far, not only those of the last pull. An unreadable state is an error,
// with an empty state beside it.
func ReadState(ctx context.Context, d Destination, name string) (*PullState, error) {
	if name == "" {
		name = DefaultStateFile
	}
	return loadState(ctx, d, name)
}

// loadState reads the state file; a missing one is an empty state. A corrupt one is reported and
// treated as empty: the pull then downloads everything again, which is safe.
func loadState(ctx context.Context, d Destination, name string) (*PullState, error) {
	st := &PullState{Version: stateVersion, Files: map[string]StateEntry{}}
	data, err := d.ReadFile(ctx, name)
	if err != nil {
		if isNotExist(err) {
			return st, nil
		}
		return st, fmt.Errorf("transifex: reading the pull state %s: %w", name, err)
	}
	var got PullState
	if err := json.Unmarshal(data, &got); err != nil || got.Version != stateVersion {
		return st, fmt.Errorf("transifex: the pull state %s is unreadable or of another version; pulling everything again", name)
	}
	if got.Files != nil {
		st.Files = got.Files
	}
	return st, nil
}

func saveState(ctx context.Context, d Destination, name string, st *PullState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := d.WriteFile(ctx, name, append(data, '\n')); err != nil {
		return fmt.Errorf("transifex: writing the pull state %s: %w", name, err)
	}
	return nil
}
