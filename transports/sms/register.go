package sms

import (
	"context"
	"errors"
	"slices"
	"strings"

	"xgate/mapping"
	"xgate/transports"
)

// RegistrationFields: the number to claim, one of the pool (numbers the
// operator assigned in the configuration are not offered).
func (t *Transport) RegistrationFields() []transports.Field {
	opts := make([]string, 0, len(t.pool))
	for n := range t.pool {
		opts = append(opts, n)
	}
	slices.Sort(opts)
	return []transports.Field{{
		Var:      "phone",
		Label:    "Your number (one of the gateway's Twilio numbers)",
		Type:     "list-single",
		Required: true,
		Options:  opts,
		Desc:     "Texts you send leave from this number, and texts to it reach you. One number per user.",
		Legacy:   "phone",
	}}
}

// Register claims a number of the pool for user. The store makes a number
// owned by another user a conflict; a number the operator assigned to
// someone else is one too.
func (t *Transport) Register(ctx context.Context, user string, values map[string]string, prev *transports.Registration) (transports.Registration, error) {
	input := strings.TrimSpace(values["phone"])
	if input == "" {
		if ns := t.assigned[user]; len(ns) > 0 {
			input = ns[0] // the operator gave this user a number
		} else {
			return transports.Registration{}, &transports.FieldError{Field: "phone", Reason: "choose one of the gateway's numbers"}
		}
	}
	number, err := mapping.PhoneToLocal(input, t.cfg.DefaultRegion)
	if err != nil {
		return transports.Registration{}, &transports.FieldError{Field: "phone", Reason: err.Error()}
	}
	if owner := t.owners[number]; owner != "" {
		if owner != user {
			return transports.Registration{}, transports.Permanent("conflict", number+" is assigned to another user", errors.New("sms: number assigned to another user"))
		}
	} else if !t.pool[number] {
		return transports.Registration{}, &transports.FieldError{Field: "phone",
			Reason: number + " is not one of this gateway's numbers (choose one of " + strings.Join(t.RegistrationFields()[0].Options, ", ") + ")"}
	}
	return transports.Registration{User: user, RemoteID: number, Settings: map[string]string{"phone": number}}, nil
}

// Unregister has nothing to release: deleting the registration frees the
// number for others.
func (t *Transport) Unregister(context.Context, transports.Registration) error { return nil }
