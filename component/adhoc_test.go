package component

import (
	"context"
	"errors"
	"testing"

	"xgate/store"
	"xgate/transports"
)

const nsCmd = "http://jabber.org/protocol/commands"

func cmdIQ(id, from, attrs, payload string) string {
	return `<iq type='set' id='` + id + `' from='` + from + `' to='sms.example.org'><command xmlns='` + nsCmd + `' ` + attrs + `>` + payload + `</command></iq>`
}

func cmdAnswer(id, to, cmd string) string {
	return `<iq from='sms.example.org' id='` + id + `' to='` + to + `' type='result'>` + cmd + `</iq>`
}

func TestCommandStatus(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	_, _, _ = tg.st.outbox.Enqueue(context.Background(), store.QueueItem{Transport: "sms", Key: "k"})
	check(t, tg.handle(t, cmdIQ("c1", alice, `node='status' action='execute'`, "")), []string{
		cmdAnswer("c1", alice, `<command xmlns='`+nsCmd+`' node='status' sessionid='id1' status='completed'><note type='info'>`+
			`SMS gateway (sms.example.org): stream down.&#xA;Registration: you are not registered.&#xA;`+
			`Queues: 1 message(s) waiting to go out, 0 waiting to be delivered to users.</note></command>`),
	})

	registerUser(tg, "admin@example.org", "+1999")
	check(t, tg.handle(t, cmdIQ("c2", "admin@example.org/pc", `node='status'`, "")), []string{
		cmdAnswer("c2", "admin@example.org/pc", `<command xmlns='`+nsCmd+`' node='status' sessionid='id2' status='completed'><note type='info'>`+
			`SMS gateway (sms.example.org): stream down.&#xA;Registration: registered as +1999.&#xA;`+
			`Queues: 1 message(s) waiting to go out, 0 waiting to be delivered to users.&#xA;Registered users: 1.</note></command>`),
	})
}

const unregisterForm = `<x xmlns='jabber:x:data' type='form'><title>Unregister from SMS gateway</title>` +
	`<instructions>This removes your registration and its settings. Messages still waiting to be sent are not cancelled.</instructions>` +
	`<field label='Yes, unregister me' type='boolean' var='confirm'><required/><value>0</value></field></x>`

func confirmForm(v string) string {
	return `<x xmlns='jabber:x:data' type='submit'><field var='confirm'><value>` + v + `</value></field></x>`
}

func TestCommandUnregister(t *testing.T) {
	ft := newFakeTransport()
	tg := newTestGateway(t, ft, nil)
	registerUser(tg, "alice@example.org", "+1555")

	executing := cmdAnswer("u1", alice, `<command xmlns='`+nsCmd+`' node='unregister' sessionid='id1' status='executing'>`+
		`<actions execute='complete'><complete/></actions>`+unregisterForm+`</command>`)
	check(t, tg.handle(t, cmdIQ("u1", alice, `node='unregister' action='execute'`, "")), []string{executing})

	// A form without the required confirmation: the field is named, the
	// session survives.
	check(t, tg.handle(t, cmdIQ("u2", alice, `node='unregister' sessionid='id1' action='complete'`, `<x xmlns='jabber:x:data' type='submit'/>`)), []string{
		`<iq from='sms.example.org' id='u2' to='alice@example.org/phone' type='error'>` +
			errElem("modify", "not-acceptable", `field "confirm": Yes, unregister me is required`) + `</iq>`,
	})
	check(t, tg.handle(t, cmdIQ("u3", alice, `node='unregister' sessionid='id1' action='complete'`, confirmForm("maybe"))), []string{
		`<iq from='sms.example.org' id='u3' to='alice@example.org/phone' type='error'>` +
			errElem("modify", "not-acceptable", `field "confirm": Yes, unregister me must be true or false`) + `</iq>`,
	})

	// Confirmed: done, then the XEP-0100 presence.
	check(t, tg.handle(t, cmdIQ("u4", alice, `node='unregister' sessionid='id1' action='complete'`, confirmForm("true"))), []string{
		cmdAnswer("u4", alice, `<command xmlns='`+nsCmd+`' node='unregister' sessionid='id1' status='completed'>`+
			`<note type='info'>You are no longer registered with SMS gateway.</note></command>`),
		`<presence from='sms.example.org' to='alice@example.org' type='unsubscribe'/>`,
		`<presence from='sms.example.org' to='alice@example.org' type='unsubscribed'/>`,
		`<presence from='sms.example.org' to='alice@example.org' type='unavailable'/>`,
	})
	if _, err := tg.st.GetRegistration(context.Background(), "sms", "alice@example.org"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("still registered: %v", err)
	}
	if len(ft.unregistered) != 1 {
		t.Errorf("transport Unregister called %d times", len(ft.unregistered))
	}

	// The session is over.
	check(t, tg.handle(t, cmdIQ("u5", alice, `node='unregister' sessionid='id1' action='complete'`, confirmForm("1"))), []string{
		`<iq from='sms.example.org' id='u5' to='alice@example.org/phone' type='error'><error type='modify'>` +
			`<bad-request xmlns='` + errNS + `'/>` + errText + `unknown or expired session</text><bad-sessionid xmlns='` + nsCmd + `'/></error></iq>`,
	})

	// Not registered any more: a note, no form.
	check(t, tg.handle(t, cmdIQ("u6", alice, `node='unregister'`, "")), []string{
		cmdAnswer("u6", alice, `<command xmlns='`+nsCmd+`' node='unregister' sessionid='id2' status='completed'>`+
			`<note type='warn'>You are not registered with SMS gateway.</note></command>`),
	})
}

func TestCommandCancelAndDecline(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	registerUser(tg, "alice@example.org", "+1555")
	tg.handle(t, cmdIQ("a1", alice, `node='unregister'`, "")) // session id1
	check(t, tg.handle(t, cmdIQ("a2", alice, `node='unregister' sessionid='id1' action='cancel'`, "")), []string{
		cmdAnswer("a2", alice, `<command xmlns='`+nsCmd+`' node='unregister' sessionid='id1' status='canceled'/>`),
	})
	tg.handle(t, cmdIQ("a3", alice, `node='unregister'`, "")) // session id2
	check(t, tg.handle(t, cmdIQ("a4", alice, `node='unregister' sessionid='id2' action='complete'`, confirmForm("0"))), []string{
		cmdAnswer("a4", alice, `<command xmlns='`+nsCmd+`' node='unregister' sessionid='id2' status='completed'><note type='info'>Nothing was changed.</note></command>`),
	})
	if _, err := tg.st.GetRegistration(context.Background(), "sms", "alice@example.org"); err != nil {
		t.Errorf("registration lost: %v", err)
	}
}

func TestCommandErrors(t *testing.T) {
	badSession := func(id, to string) []string {
		return []string{`<iq from='sms.example.org' id='` + id + `' to='` + to + `' type='error'><error type='modify'>` +
			`<bad-request xmlns='` + errNS + `'/>` + errText + `unknown or expired session</text><bad-sessionid xmlns='` + nsCmd + `'/></error></iq>`}
	}
	tg := newTestGateway(t, newFakeTransport(), nil)
	registerUser(tg, "alice@example.org", "+1555")
	tg.handle(t, cmdIQ("s", alice, `node='unregister'`, "")) // session id1 of alice/phone

	tests := []struct {
		name string
		in   string
		want []string
	}{
		{
			name: "unknown node",
			in:   cmdIQ("e1", alice, `node='launch'`, ""),
			want: []string{`<iq from='sms.example.org' id='e1' to='alice@example.org/phone' type='error'>` + errElem("cancel", "item-not-found", "no such command") + `</iq>`},
		},
		{
			name: "unknown session",
			in:   cmdIQ("e2", alice, `node='unregister' sessionid='nope' action='complete'`, ""),
			want: badSession("e2", alice),
		},
		{
			name: "someone else's session",
			in:   cmdIQ("e3", "alice@example.org/laptop", `node='unregister' sessionid='id1' action='complete'`, confirmForm("1")),
			want: badSession("e3", "alice@example.org/laptop"),
		},
		{
			name: "session of another command",
			in:   cmdIQ("e4", alice, `node='status' sessionid='id1'`, ""),
			want: badSession("e4", alice),
		},
		{
			name: "prev",
			in:   cmdIQ("e5", alice, `node='unregister' sessionid='id1' action='prev'`, ""),
			want: []string{`<iq from='sms.example.org' id='e5' to='alice@example.org/phone' type='error'><error type='modify'>` +
				`<bad-request xmlns='` + errNS + `'/>` + errText + `action prev is not supported</text><bad-action xmlns='` + nsCmd + `'/></error></iq>`},
		},
		{
			name: "cancel without session",
			in:   cmdIQ("e6", alice, `node='unregister' action='cancel'`, ""),
			want: []string{`<iq from='sms.example.org' id='e6' to='alice@example.org/phone' type='error'><error type='modify'>` +
				`<bad-request xmlns='` + errNS + `'/>` + errText + `no session to cancel</text><bad-sessionid xmlns='` + nsCmd + `'/></error></iq>`},
		},
		{
			name: "on a contact",
			in:   `<iq type='set' id='e7' from='alice@example.org/phone' to='+1@sms.example.org'><command xmlns='` + nsCmd + `' node='status'/></iq>`,
			want: []string{`<iq from='+1@sms.example.org' id='e7' to='alice@example.org/phone' type='error'>` +
				errElem("cancel", "item-not-found", "this command is run on sms.example.org, not on +1@sms.example.org") + `</iq>`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tg.handle(t, tc.in), tc.want)
		})
	}
	// After all that, alice's session still works.
	check(t, tg.handle(t, cmdIQ("ok", alice, `node='unregister' sessionid='id1' action='complete'`, confirmForm("0"))), []string{
		cmdAnswer("ok", alice, `<command xmlns='`+nsCmd+`' node='unregister' sessionid='id1' status='completed'><note type='info'>Nothing was changed.</note></command>`),
	})
}

// A transport command with two forms, a field error and a final note.
func TestCommandFromTransport(t *testing.T) {
	ft := newFakeTransport()
	var steps []map[string]string
	ft.commands = []transports.Command{{
		Node: "test-sms", Name: "Send a test SMS",
		Execute: func(ctx context.Context, user string, step int, form map[string]string) (*transports.Form, string, error) {
			if user != "alice@example.org" {
				return nil, "", errors.New("wrong user " + user)
			}
			steps = append(steps, form)
			switch step {
			case 0:
				return &transports.Form{Title: "Test", Fields: []transports.Field{{Var: "to", Label: "To", Required: true}}}, "", nil
			case 1:
				if form["to"] == "nobody" {
					return nil, "", &transports.FieldError{Field: "to", Reason: "no such number"}
				}
				return &transports.Form{Title: "Confirm", Fields: []transports.Field{{Var: "ok", Type: "boolean"}}, Values: map[string]string{"ok": "1"}}, "", nil
			default:
				return nil, "sent to " + form["to"], nil
			}
		},
	}, {Node: "status", Name: "Shadowed", Execute: func(context.Context, string, int, map[string]string) (*transports.Form, string, error) {
		return nil, "shadowed", nil
	}}}
	tg := newTestGateway(t, ft, nil)

	check(t, tg.handle(t, `<iq type='get' id='l' from='alice@example.org/phone' to='sms.example.org'><query xmlns='http://jabber.org/protocol/disco#items' node='`+nsCmd+`'/></iq>`), []string{
		`<iq from='sms.example.org' id='l' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#items' node='` + nsCmd + `'>` +
			`<item jid='sms.example.org' name='Status' node='status'/><item jid='sms.example.org' name='Unregister' node='unregister'/>` +
			`<item jid='sms.example.org' name='Send a test SMS' node='test-sms'/></query></iq>`,
	})

	check(t, tg.handle(t, cmdIQ("t1", alice, `node='test-sms'`, "")), []string{
		cmdAnswer("t1", alice, `<command xmlns='`+nsCmd+`' node='test-sms' sessionid='id1' status='executing'><actions execute='next'><next/><complete/></actions>`+
			`<x xmlns='jabber:x:data' type='form'><title>Test</title><field label='To' type='text-single' var='to'><required/></field></x></command>`),
	})
	// The component checks the required field before the command sees it.
	check(t, tg.handle(t, cmdIQ("t2", alice, `node='test-sms' sessionid='id1' action='next'`, `<x xmlns='jabber:x:data' type='submit'/>`)), []string{
		`<iq from='sms.example.org' id='t2' to='alice@example.org/phone' type='error'>` + errElem("modify", "not-acceptable", `field "to": To is required`) + `</iq>`,
	})
	// The command's own field error keeps the session too.
	check(t, tg.handle(t, cmdIQ("t3", alice, `node='test-sms' sessionid='id1' action='next'`, `<x xmlns='jabber:x:data' type='submit'><field var='to'><value>nobody</value></field></x>`)), []string{
		`<iq from='sms.example.org' id='t3' to='alice@example.org/phone' type='error'>` + errElem("modify", "not-acceptable", `field "to": no such number`) + `</iq>`,
	})
	check(t, tg.handle(t, cmdIQ("t4", alice, `node='test-sms' sessionid='id1' action='next'`, `<x xmlns='jabber:x:data' type='submit'><field var='to'><value>+1555</value></field></x>`)), []string{
		cmdAnswer("t4", alice, `<command xmlns='`+nsCmd+`' node='test-sms' sessionid='id1' status='executing'><actions execute='next'><next/><complete/></actions>`+
			`<x xmlns='jabber:x:data' type='form'><title>Confirm</title><field type='boolean' var='ok'><value>1</value></field></x></command>`),
	})
	check(t, tg.handle(t, cmdIQ("t5", alice, `node='test-sms' sessionid='id1' action='complete'`, `<x xmlns='jabber:x:data' type='submit'><field var='ok'><value>true</value></field><field var='to'><value>+1555</value></field></x>`)), []string{
		cmdAnswer("t5", alice, `<command xmlns='`+nsCmd+`' node='test-sms' sessionid='id1' status='completed'><note type='info'>sent to +1555</note></command>`),
	})
	if len(steps) != 4 || steps[0] != nil || steps[3]["ok"] != "1" {
		t.Errorf("steps seen by the command: %v", steps)
	}
}

// TestCommandOnContact runs a transport command on a contact JID: it is
// listed there, starts at step 1 with the contact's values, and its session
// belongs to that JID.
func TestCommandOnContact(t *testing.T) {
	ft := newFakeTransport()
	var steps []map[string]string
	ft.commands = []transports.Command{{
		Node: "configure", Name: "Configure",
		Contact: func(local string) (map[string]string, bool) {
			return map[string]string{"to": local}, local == "+1555"
		},
		Execute: func(ctx context.Context, user string, step int, form map[string]string) (*transports.Form, string, error) {
			steps = append(steps, form)
			if step == 1 {
				return &transports.Form{Title: "Configure " + form["to"], Fields: []transports.Field{{Var: "to", Type: "hidden"}, {Var: "ok", Type: "boolean"}},
					Values: map[string]string{"to": form["to"], "ok": "1"}}, "", nil
			}
			return nil, "configured " + form["to"], nil
		},
	}}
	tg := newTestGateway(t, ft, nil)
	const contact = "+1555@sms.example.org"
	onContact := func(id, attrs, payload string) string {
		return `<iq type='set' id='` + id + `' from='` + alice + `' to='` + contact + `'><command xmlns='` + nsCmd + `' ` + attrs + `>` + payload + `</command></iq>`
	}
	check(t, tg.handle(t, `<iq type='get' id='l' from='`+alice+`' to='`+contact+`'><query xmlns='http://jabber.org/protocol/disco#items' node='`+nsCmd+`'/></iq>`), []string{
		`<iq from='` + contact + `' id='l' to='alice@example.org/phone' type='result'><query xmlns='http://jabber.org/protocol/disco#items' node='` + nsCmd + `'>` +
			`<item jid='` + contact + `' name='Configure' node='configure'/></query></iq>`,
	})
	check(t, tg.handle(t, onContact("c1", `node='configure'`, "")), []string{
		`<iq from='` + contact + `' id='c1' to='alice@example.org/phone' type='result'><command xmlns='` + nsCmd + `' node='configure' sessionid='id1' status='executing'><actions execute='next'><next/><complete/></actions>` +
			`<x xmlns='jabber:x:data' type='form'><title>Configure +1555</title><field type='hidden' var='to'><value>+1555</value></field><field type='boolean' var='ok'><value>1</value></field></x></command></iq>`,
	})
	// The session is the contact's: not continued on the domain.
	check(t, tg.handle(t, cmdIQ("c2", alice, `node='configure' sessionid='id1'`, `<x xmlns='jabber:x:data' type='submit'/>`)), []string{
		`<iq from='sms.example.org' id='c2' to='alice@example.org/phone' type='error'><error type='modify'><bad-request xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>` +
			`<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>unknown or expired session</text><bad-sessionid xmlns='` + nsCmd + `'/></error></iq>`,
	})
	check(t, tg.handle(t, onContact("c3", `node='configure' sessionid='id1' action='complete'`, `<x xmlns='jabber:x:data' type='submit'><field var='to'><value>+1555</value></field><field var='ok'><value>1</value></field></x>`)), []string{
		`<iq from='` + contact + `' id='c3' to='alice@example.org/phone' type='result'><command xmlns='` + nsCmd + `' node='configure' sessionid='id1' status='completed'><note type='info'>configured +1555</note></command></iq>`,
	})
	// Another contact does not offer it.
	check(t, tg.handle(t, `<iq type='set' id='c4' from='`+alice+`' to='+1666@sms.example.org'><command xmlns='`+nsCmd+`' node='configure'/></iq>`), []string{
		`<iq from='+1666@sms.example.org' id='c4' to='alice@example.org/phone' type='error'>` + errElem("cancel", "item-not-found", "this command is run on sms.example.org, not on +1666@sms.example.org") + `</iq>`,
	})
	if len(steps) != 2 || steps[0]["to"] != "+1555" {
		t.Errorf("steps seen by the command: %v", steps)
	}
}
