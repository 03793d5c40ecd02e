package web

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"time"

	"github.com/stackkit/stackkit/kit/db"
	"github.com/uptrace/bun"
)

// Status is a ticket's state.
type Status string

// A ticket is open until staff close it.
const (
	StatusOpen   Status = "open"
	StatusClosed Status = "closed"
)

// Author says who wrote a message.
type Author string

// The customer opens the ticket; staff reply.
const (
	AuthorCustomer Author = "customer"
	AuthorStaff    Author = "staff"
)

// Ticket is a customer's request. Its ID is the private link's secret: 128 random bits, so it
// cannot be guessed or enumerated.
type Ticket struct {
	bun.BaseModel `bun:"table:tickets"`

	ID        string    `bun:"id,pk" json:"id"`
	Name      string    `bun:"name" json:"name"`
	Email     string    `bun:"email" json:"email"`
	Subject   string    `bun:"subject" json:"subject"`
	Status    Status    `bun:"status" json:"status"`
	Locale    string    `bun:"locale" json:"locale"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
	UpdatedAt time.Time `bun:"updated_at" json:"updated_at"`
}

// Message is one message of a ticket: the customer's first one, then replies.
type Message struct {
	bun.BaseModel `bun:"table:messages"`

	ID        string    `bun:"id,pk" json:"id"`
	TicketID  string    `bun:"ticket_id" json:"-"`
	Author    Author    `bun:"author" json:"author"`
	Body      string    `bun:"body" json:"body"`
	CreatedAt time.Time `bun:"created_at" json:"created_at"`
}

// Attachment is a file the customer sent with a ticket; its bytes are kept in storage under
// StorageName.
type Attachment struct {
	bun.BaseModel `bun:"table:attachments"`

	ID          string    `bun:"id,pk" json:"id"`
	TicketID    string    `bun:"ticket_id" json:"-"`
	StorageName string    `bun:"storage_name" json:"-"`
	FileName    string    `bun:"file_name" json:"file_name"`
	ContentType string    `bun:"content_type" json:"content_type"`
	Size        int64     `bun:"size" json:"size"`
	CreatedAt   time.Time `bun:"created_at" json:"created_at"`
}

// Errors of the store; check them with errors.Is.
var (
	ErrNotFound = errors.New("web: ticket not found")
	ErrClosed   = errors.New("web: ticket is closed")
)

// Store keeps tickets, messages and attachments in a kit/db database. Every method joins the
// transaction in ctx (kit/db.InTx) when there is one, so a handler can create a ticket, its
// attachment and the mail queued on commit in one transaction.
type Store struct {
	DB    *bun.DB
	Clock func() time.Time // nil: time.Now
}

func (s *Store) now() time.Time {
	now := time.Now
	if s.Clock != nil {
		now = s.Clock
	}
	// Microseconds: what every dialect's TIMESTAMP(6) keeps, so a read returns what was written.
	return now().UTC().Truncate(time.Microsecond)
}

// NewID returns a random identifier: 128 bits as 26 lower-case base32 characters.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}

// CreateTicket inserts t (its ID, status and timestamps set here) with the customer's first
// message and any attachments, in one transaction.
func (s *Store) CreateTicket(ctx context.Context, t *Ticket, body string, atts ...*Attachment) error {
	now := s.now()
	t.ID, t.Status, t.CreatedAt, t.UpdatedAt = NewID(), StatusOpen, now, now
	return db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(t).Exec(ctx); err != nil {
			return fmt.Errorf("web: insert ticket: %w", err)
		}
		m := &Message{ID: NewID(), TicketID: t.ID, Author: AuthorCustomer, Body: body, CreatedAt: now}
		if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
			return fmt.Errorf("web: insert message: %w", err)
		}
		for _, a := range atts {
			a.ID, a.TicketID, a.CreatedAt = NewID(), t.ID, now
			if _, err := tx.NewInsert().Model(a).Exec(ctx); err != nil {
				return fmt.Errorf("web: insert attachment: %w", err)
			}
		}
		return nil
	})
}

// Thread is a ticket with its messages (oldest first) and attachments.
type Thread struct {
	Ticket      Ticket       `json:"ticket"`
	Messages    []Message    `json:"messages"`
	Attachments []Attachment `json:"attachments"`
}

// Ticket returns the ticket with id, or ErrNotFound.
func (s *Store) Ticket(ctx context.Context, id string) (*Ticket, error) {
	t := new(Ticket)
	err := db.From(ctx, s.DB).NewSelect().Model(t).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("web: select ticket: %w", err)
	}
	return t, nil
}

// Thread returns the ticket with id with its messages and attachments, or ErrNotFound.
func (s *Store) Thread(ctx context.Context, id string) (*Thread, error) {
	var th *Thread
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		t, err := s.Ticket(ctx, id)
		if err != nil {
			return err
		}
		th = &Thread{Ticket: *t, Messages: []Message{}, Attachments: []Attachment{}}
		if err := tx.NewSelect().Model(&th.Messages).Where("ticket_id = ?", id).
			Order("created_at", "id").Scan(ctx); err != nil {
			return fmt.Errorf("web: select messages: %w", err)
		}
		if err := tx.NewSelect().Model(&th.Attachments).Where("ticket_id = ?", id).
			Order("created_at", "id").Scan(ctx); err != nil {
			return fmt.Errorf("web: select attachments: %w", err)
		}
		return nil
	}, db.ReadOnly())
	return th, err
}

// Page is one page of a ticket list, newest first.
type Page struct {
	Tickets []Ticket `json:"tickets"`
	Total   int64    `json:"total"`
	Offset  int64    `json:"offset"`
	Limit   int64    `json:"limit"`
}

// ListTickets returns up to limit tickets after skipping offset, newest first, with the total
// number of tickets.
func (s *Store) ListTickets(ctx context.Context, offset, limit int64) (*Page, error) {
	p := &Page{Tickets: []Ticket{}, Offset: offset, Limit: limit}
	n, err := db.From(ctx, s.DB).NewSelect().Model(&p.Tickets).
		OrderExpr("created_at DESC, id DESC").Offset(offset).Limit(limit).ScanAndCount(ctx)
	if err != nil {
		return nil, fmt.Errorf("web: list tickets: %w", err)
	}
	p.Total = n
	return p, nil
}

// Reply adds a staff message to the open ticket id: ErrNotFound, or ErrClosed when it is closed.
func (s *Store) Reply(ctx context.Context, id, body string) (*Message, error) {
	now := s.now()
	m := &Message{ID: NewID(), TicketID: id, Author: AuthorStaff, Body: body, CreatedAt: now}
	err := db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Ticket)(nil)).Set("updated_at = ?", now).
			Where("id = ? AND status = ?", id, StatusOpen).Exec(ctx)
		if err != nil {
			return fmt.Errorf("web: touch ticket: %w", err)
		}
		if err := s.matched(ctx, res, id); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(m).Exec(ctx); err != nil {
			return fmt.Errorf("web: insert message: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Close closes the ticket id: ErrNotFound, or ErrClosed when it already is.
func (s *Store) Close(ctx context.Context, id string) error {
	now := s.now()
	return db.InTx(ctx, s.DB, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewUpdate().Model((*Ticket)(nil)).Set("status = ?", StatusClosed).Set("updated_at = ?", now).
			Where("id = ? AND status = ?", id, StatusOpen).Exec(ctx)
		if err != nil {
			return fmt.Errorf("web: close ticket: %w", err)
		}
		return s.matched(ctx, res, id)
	})
}

// matched turns an update of an open ticket that changed no row into ErrNotFound or ErrClosed.
// MySQL counts changed rows, not matched ones, so a row that matched but kept its values (a
// reply within the clock's resolution) is an open ticket, and no error.
func (s *Store) matched(ctx context.Context, res sql.Result, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("web: rows affected: %w", err)
	}
	if n > 0 {
		return nil
	}
	t, err := s.Ticket(ctx, id)
	if err != nil {
		return err
	}
	if t.Status != StatusOpen {
		return ErrClosed
	}
	return nil
}
