package store

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

func mustPutRegistration(t *testing.T, s Store, r Registration) bool {
	t.Helper()
	created, err := s.PutRegistration(context.Background(), r)
	if err != nil {
		t.Fatalf("PutRegistration(%s, %s): %v", r.Transport, r.User, err)
	}
	return created
}

func testRegistrations(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	r := Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+15550001",
		Settings: map[string]string{"receipts": "on", "name": "Alice ☺"}}
	if !mustPutRegistration(t, s, r) {
		t.Fatal("first PutRegistration: created = false, want true")
	}
	got, err := s.GetRegistration(ctx, "sms", "alice@example.org")
	if err != nil {
		t.Fatalf("GetRegistration: %v", err)
	}
	if got.Transport != r.Transport || got.User != r.User || got.RemoteID != r.RemoteID || !maps.Equal(got.Settings, r.Settings) {
		t.Errorf("GetRegistration = %+v, want %+v", got, r)
	}
	if got.Created.Before(before) || got.Updated.Before(before) {
		t.Errorf("Created %v, Updated %v: not set to now", got.Created, got.Updated)
	}

	// A second registration updates, does not duplicate, and keeps Created.
	r2 := r
	r2.RemoteID = "+15550002"
	r2.Settings = nil
	r2.Created = time.Time{}
	if mustPutRegistration(t, s, r2) {
		t.Error("second PutRegistration: created = true, want false")
	}
	got2, err := s.GetRegistration(ctx, "sms", "alice@example.org")
	if err != nil {
		t.Fatalf("GetRegistration: %v", err)
	}
	if got2.RemoteID != "+15550002" || len(got2.Settings) != 0 || got2.Settings == nil {
		t.Errorf("after update: %+v, want remote +15550002 and empty non-nil settings", got2)
	}
	if !got2.Created.Equal(got.Created) {
		t.Errorf("Created changed on update: %v -> %v", got.Created, got2.Created)
	}
	if got2.Updated.Before(got.Updated) {
		t.Errorf("Updated went back: %v -> %v", got.Updated, got2.Updated)
	}
	if _, err := s.FindRegistration(ctx, "sms", "+15550001"); err != ErrNotFound {
		t.Errorf("FindRegistration(old remote id) = %v, want ErrNotFound", err)
	}

	// Created given by the caller is kept (imports).
	created := time.UnixMilli(1_700_000_000_123).UTC()
	mustPutRegistration(t, s, Registration{Transport: "email", User: "bob@example.org", Created: created})
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "bob@example.org"})
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "carol@example.org"}) // two empty remote ids are fine

	b, err := s.GetRegistration(ctx, "email", "bob@example.org")
	if err != nil || !b.Created.Equal(created) {
		t.Errorf("GetRegistration(email, bob) = %v, %v; want Created %v", b.Created, err, created)
	}

	lookups := []struct {
		name            string
		transport, user string
		byRemote        string
		wantUser        string // "" means ErrNotFound
	}{
		{name: "get", transport: "sms", user: "bob@example.org", wantUser: "bob@example.org"},
		{name: "get other transport", transport: "irc", user: "bob@example.org"},
		{name: "get unknown user", transport: "sms", user: "dave@example.org"},
		{name: "find", transport: "sms", byRemote: "+15550002", wantUser: "alice@example.org"},
		{name: "find other transport", transport: "email", byRemote: "+15550002"},
		{name: "find empty remote id", transport: "sms", byRemote: ""},
		{name: "find unknown", transport: "sms", byRemote: "+1999"},
	}
	for _, tc := range lookups {
		var got Registration
		var err error
		if tc.user != "" {
			got, err = s.GetRegistration(ctx, tc.transport, tc.user)
		} else {
			got, err = s.FindRegistration(ctx, tc.transport, tc.byRemote)
		}
		switch {
		case tc.wantUser == "" && err != ErrNotFound:
			t.Errorf("%s: got %+v, %v; want ErrNotFound", tc.name, got, err)
		case tc.wantUser != "" && (err != nil || got.User != tc.wantUser):
			t.Errorf("%s: got %+v, %v; want user %s", tc.name, got, err, tc.wantUser)
		}
	}

	list, err := s.ListRegistrations(ctx, "sms")
	if err != nil {
		t.Fatalf("ListRegistrations: %v", err)
	}
	if got, want := users(list), []string{"alice@example.org", "bob@example.org", "carol@example.org"}; !slices.Equal(got, want) {
		t.Errorf("ListRegistrations(sms) users = %v, want %v", got, want)
	}
	all, err := s.ListRegistrations(ctx, "")
	if err != nil || len(all) != 4 || all[0].Transport != "email" {
		t.Errorf("ListRegistrations(\"\") = %d items (first %+v), %v; want 4, email first", len(all), all, err)
	}
	if none, err := s.ListRegistrations(ctx, "irc"); err != nil || len(none) != 0 {
		t.Errorf("ListRegistrations(irc) = %v, %v; want none", none, err)
	}

	if _, err := s.PutRegistration(ctx, Registration{Transport: "sms"}); err == nil {
		t.Error("PutRegistration without user: no error")
	}
}

func testRegistrationConflicts(t *testing.T, s Store) {
	ctx := context.Background()
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+15550001"})

	_, err := s.PutRegistration(ctx, Registration{Transport: "sms", User: "bob@example.org", RemoteID: "+15550001"})
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("taken remote id: err = %v, want *ConflictError", err)
	}
	if *ce != (ConflictError{Transport: "sms", RemoteID: "+15550001", Owner: "alice@example.org"}) {
		t.Errorf("ConflictError = %+v", *ce)
	}
	if _, err := s.GetRegistration(ctx, "sms", "bob@example.org"); err != ErrNotFound {
		t.Errorf("refused registration was stored: %v", err)
	}
	// Updating an existing registration onto a taken id is refused too, and
	// leaves it as it was.
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "bob@example.org", RemoteID: "+15550002"})
	if _, err := s.PutRegistration(ctx, Registration{Transport: "sms", User: "bob@example.org", RemoteID: "+15550001"}); !errors.As(err, &ce) {
		t.Errorf("update onto taken remote id: err = %v, want *ConflictError", err)
	}
	if r, _ := s.GetRegistration(ctx, "sms", "bob@example.org"); r.RemoteID != "+15550002" {
		t.Errorf("refused update changed the registration: %+v", r)
	}
	// The same identity on another transport, or re-put by its owner, is fine.
	mustPutRegistration(t, s, Registration{Transport: "irc", User: "bob@example.org", RemoteID: "+15550001"})
	if mustPutRegistration(t, s, Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+15550001"}) {
		t.Error("re-put by the owner: created = true")
	}
}

func testDeleteRegistration(t *testing.T, s Store) {
	ctx := context.Background()
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+15550001"})
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "bob@example.org"})
	mustPutRegistration(t, s, Registration{Transport: "email", User: "alice@example.org"})
	for _, c := range []Contact{
		{Transport: "sms", User: "alice@example.org", Remote: "+1555100"},
		{Transport: "sms", User: "alice@example.org", Remote: "+1555101"},
		{Transport: "sms", User: "bob@example.org", Remote: "+1555100"},
		{Transport: "email", User: "alice@example.org", Remote: "x\\40example.com"},
	} {
		if err := s.PutContact(ctx, c); err != nil {
			t.Fatalf("PutContact: %v", err)
		}
	}
	if err := s.DeleteRegistration(ctx, "sms", "alice@example.org"); err != nil {
		t.Fatalf("DeleteRegistration: %v", err)
	}
	if _, err := s.GetRegistration(ctx, "sms", "alice@example.org"); err != ErrNotFound {
		t.Errorf("after delete: GetRegistration err = %v, want ErrNotFound", err)
	}
	if cs, err := s.ListContacts(ctx, "sms", "alice@example.org"); err != nil || len(cs) != 0 {
		t.Errorf("after delete: alice's sms contacts = %v, %v; want none", cs, err)
	}
	if cs, _ := s.ListContacts(ctx, "sms", "bob@example.org"); len(cs) != 1 {
		t.Errorf("bob's contacts = %v, want 1 (untouched)", cs)
	}
	if cs, _ := s.ListContacts(ctx, "email", "alice@example.org"); len(cs) != 1 {
		t.Errorf("alice's email contacts = %v, want 1 (untouched)", cs)
	}
	if _, err := s.GetRegistration(ctx, "email", "alice@example.org"); err != nil {
		t.Errorf("alice's email registration: %v", err)
	}
	if err := s.DeleteRegistration(ctx, "sms", "alice@example.org"); err != ErrNotFound {
		t.Errorf("second DeleteRegistration = %v, want ErrNotFound", err)
	}
	// Her remote id is free again.
	mustPutRegistration(t, s, Registration{Transport: "sms", User: "bob@example.org", RemoteID: "+15550001"})
}

func testContacts(t *testing.T, s Store) {
	ctx := context.Background()
	created := time.UnixMilli(1_700_000_000_000).UTC()
	for _, c := range []Contact{
		{Transport: "sms", User: "alice@example.org", Remote: "+1555200", Name: "Zed", Created: created},
		{Transport: "sms", User: "alice@example.org", Remote: "+1555100"},
		{Transport: "sms", User: "bob@example.org", Remote: "+1555300"},
	} {
		if err := s.PutContact(ctx, c); err != nil {
			t.Fatalf("PutContact(%+v): %v", c, err)
		}
	}
	// Re-put renames and keeps Created.
	if err := s.PutContact(ctx, Contact{Transport: "sms", User: "alice@example.org", Remote: "+1555200", Name: "Zoe"}); err != nil {
		t.Fatalf("PutContact rename: %v", err)
	}
	c, err := s.GetContact(ctx, "sms", "alice@example.org", "+1555200")
	if err != nil {
		t.Fatalf("GetContact: %v", err)
	}
	if c.Name != "Zoe" || !c.Created.Equal(created) {
		t.Errorf("GetContact = %+v, want name Zoe, created %v", c, created)
	}
	list, err := s.ListContacts(ctx, "sms", "alice@example.org")
	if err != nil || len(list) != 2 || list[0].Remote != "+1555100" || list[1].Remote != "+1555200" {
		t.Errorf("ListContacts = %+v, %v; want +1555100, +1555200", list, err)
	}
	if err := s.DeleteContact(ctx, "sms", "alice@example.org", "+1555100"); err != nil {
		t.Errorf("DeleteContact: %v", err)
	}
	if _, err := s.GetContact(ctx, "sms", "alice@example.org", "+1555100"); err != ErrNotFound {
		t.Errorf("GetContact after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteContact(ctx, "sms", "alice@example.org", "+1555100"); err != ErrNotFound {
		t.Errorf("DeleteContact of a missing contact = %v, want ErrNotFound", err)
	}
	if err := s.PutContact(ctx, Contact{Transport: "sms", User: "alice@example.org"}); err == nil {
		t.Error("PutContact without remote: no error")
	}
}

func testIDMappings(t *testing.T, s Store) {
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour).Truncate(time.Millisecond).UTC()
	pairs := []IDMapping{
		{Transport: "sms", User: "alice@example.org", StanzaID: "s1", RemoteID: "SM1", Peer: "+1555100",
			Payload: []byte(`{"receipt":true}`), Created: old},
		{Transport: "sms", User: "alice@example.org", StanzaID: "s2", RemoteID: "SM2", Peer: "+1555100"},
		{Transport: "email", User: "alice@example.org", StanzaID: "s1", RemoteID: "<m1@x>", Peer: "bob\\40x"},
		// A second pair for the same stanza id (a retried send): the newest wins.
		{Transport: "sms", User: "alice@example.org", StanzaID: "s2", RemoteID: "SM3", Peer: "+1555100"},
	}
	for _, m := range pairs {
		if err := s.PutIDMapping(ctx, m); err != nil {
			t.Fatalf("PutIDMapping: %v", err)
		}
	}
	got, err := s.IDByRemote(ctx, "sms", "SM1")
	if err != nil {
		t.Fatalf("IDByRemote: %v", err)
	}
	want := pairs[0]
	if got.Transport != want.Transport || got.User != want.User || got.StanzaID != want.StanzaID ||
		got.RemoteID != want.RemoteID || got.Peer != want.Peer || !bytes.Equal(got.Payload, want.Payload) || !got.Created.Equal(want.Created) {
		t.Errorf("IDByRemote = %+v, want %+v", got, want)
	}
	tests := []struct {
		name               string
		transport, user    string
		stanzaID, remoteID string
		want               string // RemoteID or StanzaID expected; "" = ErrNotFound
	}{
		{name: "by stanza", transport: "sms", user: "alice@example.org", stanzaID: "s1", want: "SM1"},
		{name: "by stanza, newest wins", transport: "sms", user: "alice@example.org", stanzaID: "s2", want: "SM3"},
		{name: "by stanza, other transport", transport: "email", user: "alice@example.org", stanzaID: "s1", want: "<m1@x>"},
		{name: "by stanza, other user", transport: "sms", user: "bob@example.org", stanzaID: "s1"},
		{name: "by remote", transport: "sms", remoteID: "SM2", want: "s2"},
		{name: "by remote, other transport", transport: "email", remoteID: "SM2"},
	}
	for _, tc := range tests {
		var got IDMapping
		var err error
		var field func(IDMapping) string
		if tc.stanzaID != "" {
			got, err = s.IDByStanza(ctx, tc.transport, tc.user, tc.stanzaID)
			field = func(m IDMapping) string { return m.RemoteID }
		} else {
			got, err = s.IDByRemote(ctx, tc.transport, tc.remoteID)
			field = func(m IDMapping) string { return m.StanzaID }
		}
		switch {
		case tc.want == "" && err != ErrNotFound:
			t.Errorf("%s: %+v, %v; want ErrNotFound", tc.name, got, err)
		case tc.want != "" && (err != nil || field(got) != tc.want):
			t.Errorf("%s: %+v, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	n, err := s.PruneIDMappings(ctx, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneIDMappings = %d, %v; want 1", n, err)
	}
	if _, err := s.IDByRemote(ctx, "sms", "SM1"); err != ErrNotFound {
		t.Errorf("pruned mapping still found: %v", err)
	}
	if _, err := s.IDByRemote(ctx, "sms", "SM2"); err != nil {
		t.Errorf("recent mapping pruned: %v", err)
	}
}

func users(rs []Registration) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.User)
	}
	return out
}
