package queue_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/stackkit/stackkit/kit/queue"
)

func Example() {
	ctx := context.Background()
	q, err := queue.Open(ctx, "memory://") // or nats://…, nats+embedded://… with kit/queue/nats
	if err != nil {
		panic(err)
	}
	defer q.Close()

	_ = q.Publish(ctx, &queue.Message{Subject: "jobs.email", ID: "welcome-42", Data: []byte("hello")})
	_ = q.Publish(ctx, &queue.Message{Subject: "jobs.email", ID: "welcome-42", Data: []byte("hello")}) // dropped: same ID

	ctx, stop := context.WithCancel(ctx)
	err = q.Consume(ctx, "mailer", "jobs.>", func(ctx context.Context, m *queue.Message) error {
		fmt.Printf("%s %s %q delivery %d\n", m.Subject, m.ID, m.Data, m.Delivery)
		stop() // Consume drains and returns once this handler is done
		return nil
	}, queue.Concurrency(4))
	fmt.Println("Consume returned", err)
	// Output:
	// jobs.email welcome-42 "hello" delivery 1
	// Consume returned <nil>
}

func ExampleQueue_DeadLetters() {
	ctx := context.Background()
	q, _ := queue.Open(ctx, "memory://")
	defer q.Close()
	_ = q.Publish(ctx, &queue.Message{Subject: "jobs.email", ID: "m-1", Data: []byte("to: nobody@invalid")})

	cctx, stop := context.WithCancel(ctx)
	_ = q.Consume(cctx, "mailer", "jobs.email", func(ctx context.Context, m *queue.Message) error {
		stop()
		return queue.Permanent(errors.New("550 no such user"))
	})

	for dl, err := range q.DeadLetters(ctx, "mailer") {
		if err != nil {
			panic(err)
		}
		fmt.Println(dl.Seq, dl.Subject, dl.Message.ID, dl.Deliveries, dl.Reason)
	}
	n, err := q.Redrive(ctx, "mailer") // publish them again and remove them
	fmt.Println("re-driven:", n, err)
	// Output:
	// 1 jobs.email m-1 1 550 no such user
	// re-driven: 1 <nil>
}
