package mail_test

import (
	"context"
	"fmt"

	"github.com/stackkit/stackkit/kit/mail"
	"github.com/stackkit/stackkit/kit/queue"
)

func Example() {
	ctx := context.Background()
	m, _ := mail.Open(ctx, "memory://?default_from=Shop%20%3Cshop@example.com%3E")
	defer m.Close()
	err := m.Send(ctx, &mail.Message{
		To:      []string{"Jörg <joerg@bücher.example>"},
		Bcc:     []string{"audit@example.com"},
		Subject: "Your receipt",
		Text:    "Thanks!",
	})
	sent := m.Driver().(*mail.Memory).Messages()
	fmt.Println(err, sent[0].From, sent[0].To)
	// Output: <nil> shop@example.com [joerg@xn--bcher-kva.example audit@example.com]
}

func ExampleWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	q, _ := queue.Open(ctx, "memory://")
	defer q.Close()
	queued, _ := mail.NewQueued(q, mail.DefaultSubject)
	_ = queued.Send(ctx, &mail.Message{From: "shop@example.com", To: []string{"a@example.com"}, Subject: "Hi", Text: "Hello"})

	out := mail.New(mail.NewMemory()) // smtp:// in a service
	w := &mail.Worker{Queue: q, Mailer: out}
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	sent, _ := out.Driver().(*mail.Memory).Wait(ctx, 1)
	cancel()
	fmt.Println(<-done, sent[0].To)
	// Output: <nil> [a@example.com]
}

func ExampleIsTemporary() {
	err := &mail.SMTPError{Code: 450, EnhancedCode: "4.2.0", Message: "Greylisted", Command: "RCPT"}
	fmt.Println(mail.IsTemporary(err), mail.IsPermanent(err), err.Reply())
	// Output: true false 450 4.2.0 Greylisted
}
