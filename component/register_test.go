package component

import (
	"context"
	"reflect"
	"testing"

	"xgate/store"
	"xgate/transports"
)

const (
	regForm = `<x xmlns='jabber:x:data' type='form'><title>Register with SMS gateway</title>` +
		`<instructions>Submit this form to register with SMS gateway.</instructions>` +
		`<field type='hidden' var='FORM_TYPE'><value>jabber:iq:register</value></field>` +
		`<field label='Phone number' type='text-single' var='phone'><desc>Your number in E.164</desc><required/>%s</field>` +
		`<field label='Password' type='text-private' var='password'/>` +
		`<field label='Mode' type='list-single' var='mode'>%s<option><value>sms</value></option><option><value>mms</value></option></field></x>`
	iqResult = `<iq from='sms.example.org' id='%s' to='alice@example.org/phone' type='result'/>`
)

func registerIQ(id, payload string) string {
	return `<iq type='set' id='` + id + `' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:register'>` + payload + `</query></iq>`
}

func submitForm(fields string) string {
	return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>jabber:iq:register</value></field>` + fields + `</x>`
}

func field(name, value string) string {
	return `<field var='` + name + `'><value>` + value + `</value></field>`
}

func subscribedSeq(id string) []string {
	return []string{
		sprintf(iqResult, id),
		`<presence from='sms.example.org' to='alice@example.org' type='subscribe'/>`,
		`<presence from='sms.example.org' to='alice@example.org'/>`,
	}
}

func TestRegisterFlow(t *testing.T) {
	ft := newFakeTransport()
	tg := newTestGateway(t, ft, nil)
	get := `<iq type='get' id='g1' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:register'/></iq>`

	// Not registered: the form, legacy fields, no values.
	check(t, tg.handle(t, get), []string{
		`<iq from='sms.example.org' id='g1' to='alice@example.org/phone' type='result'><query xmlns='jabber:iq:register'>` +
			`<instructions>Submit this form to register with SMS gateway.</instructions><phone/><password/>` +
			sprintf(regForm, "", "") + `</query></iq>`,
	})

	// Register with the form: result, then XEP-0100 subscribe + available.
	check(t, tg.handle(t, registerIQ("r1", submitForm(field("phone", "+15551234567")+field("password", "pw")+field("mode", "sms")))), subscribedSeq("r1"))
	want := store.Registration{Transport: "sms", User: "alice@example.org", RemoteID: "+15551234567",
		Settings: map[string]string{"phone": "+15551234567", "password": "pw", "mode": "sms"}, Created: testNow, Updated: testNow}
	if got, _ := tg.st.GetRegistration(context.Background(), "sms", "alice@example.org"); !reflect.DeepEqual(got, want) {
		t.Errorf("stored %+v\nwant %+v", got, want)
	}

	// Registered: <registered/> and current values, but never the password.
	check(t, tg.handle(t, get), []string{
		`<iq from='sms.example.org' id='g1' to='alice@example.org/phone' type='result'><query xmlns='jabber:iq:register'><registered/>` +
			`<instructions>Submit this form to register with SMS gateway.</instructions><phone>+15551234567</phone><password/>` +
			sprintf(regForm, "<value>+15551234567</value>", "<value>sms</value>") + `</query></iq>`,
	})

	// A second registration updates: no new presence subscription, one row.
	check(t, tg.handle(t, registerIQ("r2", submitForm(field("phone", "+15550000000")))), []string{sprintf(iqResult, "r2")})
	regs, _ := tg.st.ListRegistrations(context.Background(), "sms")
	if len(regs) != 1 || regs[0].RemoteID != "+15550000000" {
		t.Errorf("registrations after update: %+v", regs)
	}

	// Remove: result, unsubscribe, unsubscribed, unavailable.
	check(t, tg.handle(t, registerIQ("x1", `<remove/>`)), []string{
		sprintf(iqResult, "x1"),
		`<presence from='sms.example.org' to='alice@example.org' type='unsubscribe'/>`,
		`<presence from='sms.example.org' to='alice@example.org' type='unsubscribed'/>`,
		`<presence from='sms.example.org' to='alice@example.org' type='unavailable'/>`,
	})
	if _, err := tg.st.GetRegistration(context.Background(), "sms", "alice@example.org"); err != store.ErrNotFound {
		t.Errorf("registration still there: %v", err)
	}
	if len(ft.unregistered) != 1 || ft.unregistered[0].RemoteID != "+15550000000" {
		t.Errorf("transport Unregister calls: %+v", ft.unregistered)
	}

	// Remove again: not registered.
	check(t, tg.handle(t, registerIQ("x2", `<remove/>`)), []string{
		`<iq from='sms.example.org' id='x2' to='alice@example.org/phone' type='error'>` +
			errElem("auth", "registration-required", "you are not registered with sms.example.org") + `</iq>`,
	})
}

func TestRegisterLegacy(t *testing.T) {
	tg := newTestGateway(t, newFakeTransport(), nil)
	check(t, tg.handle(t, registerIQ("l1", `<phone>+15551234567</phone><password>pw</password><nick>ignored</nick>`)), subscribedSeq("l1"))
	r, err := tg.st.GetRegistration(context.Background(), "sms", "alice@example.org")
	if err != nil || r.RemoteID != "+15551234567" || !reflect.DeepEqual(r.Settings, map[string]string{"phone": "+15551234567", "password": "pw"}) {
		t.Errorf("stored %+v, %v", r, err)
	}
}

func TestRegisterErrors(t *testing.T) {
	errIQ := func(id, typ, cond, text string) []string {
		return []string{`<iq from='sms.example.org' id='` + id + `' to='alice@example.org/phone' type='error'>` + errElem(typ, cond, text) + `</iq>`}
	}
	tests := []struct {
		name  string
		setup func(*testGateway, *fakeTransport)
		in    string
		want  []string
	}{
		{
			name: "missing required field",
			in:   registerIQ("e1", submitForm(field("password", "pw"))),
			want: errIQ("e1", "modify", "not-acceptable", `field "phone": Phone number is required`),
		},
		{
			name: "blank required field",
			in:   registerIQ("e2", submitForm(field("phone", "  "))),
			want: errIQ("e2", "modify", "not-acceptable", `field "phone": Phone number is required`),
		},
		{
			name: "missing legacy field",
			in:   registerIQ("e3", `<password>pw</password>`),
			want: errIQ("e3", "modify", "not-acceptable", `field "phone": Phone number is required`),
		},
		{
			name: "option not offered",
			in:   registerIQ("e4", submitForm(field("phone", "+1555")+field("mode", "fax"))),
			want: errIQ("e4", "modify", "not-acceptable", `field "mode": Mode must be one of sms, mms`),
		},
		{
			name: "field refused by the transport",
			in:   registerIQ("e5", submitForm(field("phone", "0612345678"))),
			want: errIQ("e5", "modify", "not-acceptable", `field "phone": must start with +`),
		},
		{
			name:  "number owned by another user",
			setup: func(tg *testGateway, _ *fakeTransport) { registerUser(tg, "bob@example.org", "+1555") },
			in:    registerIQ("e6", submitForm(field("phone", "+1555"))),
			want:  errIQ("e6", "cancel", "conflict", "+1555 is already registered by another user"),
		},
		{
			name: "conflict from the transport",
			setup: func(_ *testGateway, ft *fakeTransport) {
				ft.registerErr = transports.Permanent("conflict", "this number is not yours", nil)
			},
			in:   registerIQ("e7", submitForm(field("phone", "+1555"))),
			want: errIQ("e7", "cancel", "conflict", "this number is not yours"),
		},
		{
			name:  "unclassified transport error",
			setup: func(_ *testGateway, ft *fakeTransport) { ft.registerErr = errStoreDown },
			in:    registerIQ("e8", submitForm(field("phone", "+1555"))),
			want:  errIQ("e8", "cancel", "internal-server-error", "the registration failed"),
		},
		{
			name: "form of the wrong type",
			in:   registerIQ("e9", `<x xmlns='jabber:x:data' type='form'/>`),
			want: errIQ("e9", "modify", "bad-request", "the registration form must be of type submit"),
		},
		{
			name: "wrong FORM_TYPE",
			in:   registerIQ("e10", `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x>`),
			want: errIQ("e10", "modify", "bad-request", `unexpected FORM_TYPE "urn:other"`),
		},
		{
			name:  "store down on get",
			setup: func(tg *testGateway, _ *fakeTransport) { tg.st.fail = errStoreDown },
			in:    `<iq type='get' id='e11' from='alice@example.org/phone' to='sms.example.org'><query xmlns='jabber:iq:register'/></iq>`,
			want:  errIQ("e11", "cancel", "internal-server-error", "the registration store is unavailable; try again later"),
		},
		{
			name:  "store down on set",
			setup: func(tg *testGateway, _ *fakeTransport) { tg.st.fail = errStoreDown },
			in:    registerIQ("e12", submitForm(field("phone", "+1555"))),
			want:  errIQ("e12", "cancel", "internal-server-error", "the registration store is unavailable; try again later"),
		},
		{
			name: "register with a contact",
			in:   `<iq type='set' id='e13' from='alice@example.org/phone' to='+1555@sms.example.org'><query xmlns='jabber:iq:register'/></iq>`,
			want: []string{`<iq from='+1555@sms.example.org' id='e13' to='alice@example.org/phone' type='error'>` +
				errElem("cancel", "service-unavailable", "register with sms.example.org, not with a contact") + `</iq>`},
		},
		{
			name: "stranger",
			in:   `<iq type='set' id='e14' from='mallory@evil.example/x' to='sms.example.org'><query xmlns='jabber:iq:register'><phone>+1555</phone></query></iq>`,
			want: []string{`<iq from='sms.example.org' id='e14' to='mallory@evil.example/x' type='error'>` +
				errElem("auth", "forbidden", "mallory@evil.example is not allowed to use sms.example.org; ask the operator of this gateway") + `</iq>`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ft := newFakeTransport()
			tg := newTestGateway(t, ft, nil)
			if tc.setup != nil {
				tc.setup(tg, ft)
			}
			check(t, tg.handle(t, tc.in), tc.want)
			if _, err := tg.st.GetRegistration(context.Background(), "sms", "alice@example.org"); err == nil {
				t.Error("alice got registered")
			}
		})
	}
}

func TestRegisterWithoutRegistrar(t *testing.T) {
	tg := newTestGateway(t, plainTransport{}, func(c *GatewayConfig) { c.Domain = "hook.example.org" })
	check(t, tg.handle(t, `<iq type='get' id='g' from='alice@example.org/phone' to='hook.example.org'><query xmlns='jabber:iq:register'/></iq>`), []string{
		`<iq from='hook.example.org' id='g' to='alice@example.org/phone' type='result'><query xmlns='jabber:iq:register'>` +
			`<instructions>Submit to register with hook.example.org; no details are needed.</instructions>` +
			`<x xmlns='jabber:x:data' type='form'><title>Register with hook.example.org</title>` +
			`<instructions>Submit to register with hook.example.org; no details are needed.</instructions>` +
			`<field type='hidden' var='FORM_TYPE'><value>jabber:iq:register</value></field></x></query></iq>`,
	})
	check(t, tg.handle(t, `<iq type='set' id='s' from='alice@example.org/phone' to='hook.example.org'><query xmlns='jabber:iq:register'/></iq>`), []string{
		`<iq from='hook.example.org' id='s' to='alice@example.org/phone' type='result'/>`,
		`<presence from='hook.example.org' to='alice@example.org' type='subscribe'/>`,
		`<presence from='hook.example.org' to='alice@example.org'/>`,
	})
	if _, err := tg.st.GetRegistration(context.Background(), "webhook", "alice@example.org"); err != nil {
		t.Errorf("not registered: %v", err)
	}
}

// registerUser stores a registration directly.
func registerUser(tg *testGateway, user, remote string) {
	_, _ = tg.st.PutRegistration(context.Background(), store.Registration{Transport: "sms", User: user, RemoteID: remote})
}
