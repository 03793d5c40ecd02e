package mail

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Address is a parsed, encodable mail address.
type Address struct {
	// Name is the display name, any Unicode ("Jörg Müller"); it is written RFC 2047-encoded.
	Name string
	// Addr is the address with its domain in ASCII (IDNA punycode): "joerg@xn--bcher-kva.example".
	Addr string
}

// String formats the address for a header: the name quoted or RFC 2047-encoded as needed.
func (a Address) String() string { return (&mail.Address{Name: a.Name, Address: a.Addr}).String() }

// idnaProfile converts domains for the wire: UTS #46 lookup mapping (case folding, width
// normalisation) with the stricter registration-time validity checks off, as browsers do.
var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false))

// ParseAddress parses one address as written in a Message field: "user@example.com",
// "Name <user@example.com>", with a Unicode name or domain ("Jörg <joerg@bücher.example>").
//
// Domains are converted to IDNA punycode, so the message and the SMTP envelope stay ASCII and
// every server takes them, with or without SMTPUTF8. A local part (before the '@') must be ASCII:
// a non-ASCII one needs SMTPUTF8 on every hop to the recipient, which a sender cannot know, so it
// is rejected with ErrInvalidAddress rather than bounced later.
//
// A quoted local part ("john doe"@example.com) parses, and may go in Reply-To, but Send refuses
// it in From, To, Cc and Bcc when it would need quoting in the SMTP envelope (a space, '<', '>',
// '"', ...): the envelope carries addresses bare, so it could end the address early and add
// ESMTP parameters.
func ParseAddress(s string) (Address, error) {
	if strings.ContainsAny(s, "\r\n") {
		return Address{}, fmt.Errorf("%w: address %q has a line break", ErrInvalidHeader, s)
	}
	if strings.TrimSpace(s) == "" {
		return Address{}, fmt.Errorf("%w: empty address", ErrInvalidAddress)
	}
	p, err := mail.ParseAddress(s)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, s, err)
	}
	at := strings.LastIndexByte(p.Address, '@')
	if at <= 0 || at == len(p.Address)-1 {
		return Address{}, fmt.Errorf("%w: %q has no domain", ErrInvalidAddress, s)
	}
	local, domain := p.Address[:at], p.Address[at+1:]
	if !isASCII(local) {
		return Address{}, fmt.Errorf("%w: %q: the local part %q is not ASCII (it would need SMTPUTF8 end to end)", ErrInvalidAddress, s, local)
	}
	if strings.HasPrefix(domain, "[") {
		// An address literal: [192.0.2.1] or [IPv6:...]; net/mail has validated its syntax.
		return Address{Name: p.Name, Addr: p.Address}, nil
	}
	ascii, err := idnaProfile.ToASCII(domain)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %q: domain %q: %v", ErrInvalidAddress, s, domain, err)
	}
	if ascii == "" || len(ascii) > 253 || !strings.Contains(ascii, ".") && ascii != "localhost" {
		return Address{}, fmt.Errorf("%w: %q: domain %q is not a mail domain", ErrInvalidAddress, s, domain)
	}
	if !utf8.ValidString(p.Name) {
		return Address{}, fmt.Errorf("%w: %q: the name is not valid UTF-8", ErrInvalidAddress, s)
	}
	if len(p.Address) > 254 {
		return Address{}, fmt.Errorf("%w: %q is longer than 254 bytes", ErrInvalidAddress, s)
	}
	return Address{Name: p.Name, Addr: local + "@" + ascii}, nil
}

func parseAddresses(field string, list []string) ([]Address, error) {
	out := make([]Address, 0, len(list))
	for _, s := range list {
		a, err := ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("a %s address: %w", field, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
