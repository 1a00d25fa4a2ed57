package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"xgate/integration/harness"
)

// presenceWait bounds how long a presence routed by the server may take.
const presenceWait = 10 * time.Second

// registerGet fetches the registration form.
func registerGet(t *testing.T, c *harness.Client) *harness.Element {
	t.Helper()
	r := c.IQ(t, "<iq type='get' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'/></iq>")
	if r.Type() != "result" || r.ChildNS(nsRegister, "query") == nil {
		t.Fatalf("registration form: %s", r)
	}
	return r.ChildNS(nsRegister, "query")
}

// submitForm answers the form in query: FORM_TYPE kept, required fields given
// a value, as a client rendering the form would.
func submitForm(query *harness.Element, fill string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='" + nsData + "' type='submit'>")
	for _, f := range query.ChildNS(nsData, "x").ChildrenNamed("field") {
		v := f.ChildText("value")
		switch {
		case f.Attr("var") == "" || f.Attr("type") == "fixed":
			continue
		case f.Attr("var") == "FORM_TYPE":
		case f.Child("required") != nil || v == "":
			v = fill
		}
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", f.Attr("var"), v)
	}
	b.WriteString("</x>")
	return b.String()
}

// testRegister: XEP-0077 form, registration, XEP-0100 presence exchange, and a
// second registration that updates rather than duplicates.
func testRegister(t *testing.T, e *env, alice *harness.Client) {
	q := registerGet(t, alice)
	form := q.ChildNS(nsData, "x")
	if form == nil || form.Attr("type") != "form" {
		t.Fatalf("registration: no XEP-0004 form: %s", q)
	}
	formType := ""
	for _, f := range form.ChildrenNamed("field") {
		if f.Attr("var") == "FORM_TYPE" {
			formType = f.ChildText("value")
		}
	}
	if formType != nsRegister {
		t.Errorf("registration form FORM_TYPE %q, want %s", formType, nsRegister)
	}
	if q.Child("registered") != nil {
		t.Errorf("registration form says <registered/> before registering: %s", q)
	}
	if q.ChildText("instructions") == "" {
		t.Errorf("registration form has no <instructions/>: %s", q)
	}

	r := alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'>"+submitForm(q, "first")+"</query></iq>")
	if r.Type() != "result" {
		t.Fatalf("register: %s", r)
	}
	// XEP-0100: the gateway asks for the user's presence; the user approves
	// and subscribes back, which the gateway approves.
	alice.Expect(t, presenceWait, harness.Presence(hookDomain, "subscribe"))
	alice.Send(t, "<presence type='subscribed' to='"+hookDomain+"'/>")
	alice.Send(t, "<presence type='subscribe' to='"+hookDomain+"'/>")
	alice.Expect(t, presenceWait, harness.Presence(hookDomain, "subscribed"))
	alice.Expect(t, presenceWait, harness.Presence(hookDomain, ""))

	if q := registerGet(t, alice); q.Child("registered") == nil {
		t.Errorf("registration form after registering lacks <registered/>: %s", q)
	}

	// A second registration updates the first.
	q = registerGet(t, alice)
	r = alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'>"+submitForm(q, "second")+"</query></iq>")
	if r.Type() != "result" {
		t.Fatalf("second registration: %s", r)
	}
	r = alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><command xmlns='"+nsCommands+"' node='status' action='execute'/></iq>")
	if note := r.FindText("command", "note"); r.Type() != "result" || strings.Contains(strings.ToLower(note), "not registered") {
		t.Errorf("status after registering: %s", r)
	}
}

// testUnregister: XEP-0077 remove, and the gateway withdraws both
// subscriptions (XEP-0100).
func testUnregister(t *testing.T, e *env, alice *harness.Client) {
	r := alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'><remove/></query></iq>")
	if r.Type() != "result" {
		t.Fatalf("unregister: %s", r)
	}
	alice.Expect(t, presenceWait, harness.Presence(hookDomain, "unsubscribe"))
	alice.Expect(t, presenceWait, harness.Presence(hookDomain, "unsubscribed"))
	if q := registerGet(t, alice); q.Child("registered") != nil {
		t.Errorf("registration form after unregistering still says <registered/>: %s", q)
	}
	r = alice.IQ(t, "<iq type='set' to='"+hookDomain+"'><query xmlns='"+nsRegister+"'><remove/></query></iq>")
	if r.Type() != "error" {
		t.Errorf("unregistering twice: want an error, got %s", r)
	}
}
