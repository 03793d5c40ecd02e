package transifex_test

import (
	"context"
	"fmt"
	"log"

	"github.com/stackkit/stackkit/kit/i18n/transifex"
)

// Pull every language of every resource in .tx/config, and report the files that failed.
func ExamplePull() {
	cfg, err := transifex.LoadConfig(".tx/config")
	if err != nil {
		log.Fatal(err)
	}
	creds, err := transifex.ResolveCredentials(cfg, transifex.CredentialOptions{})
	if err != nil {
		log.Fatal(err)
	}
	c, err := transifex.NewFromCredentials(creds)
	if err != nil {
		log.Fatal(err)
	}
	rep, err := transifex.Pull(context.Background(), c, cfg, transifex.PullOptions{All: true, Compile: true})
	if err != nil {
		log.Fatal(err) // a refused token, bad options, cancellation
	}
	for _, r := range rep.Results {
		fmt.Println(r)
	}
	if err := rep.Err(); err != nil {
		log.Fatal(err)
	}
}
