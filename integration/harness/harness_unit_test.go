package harness

import (
	"encoding/xml"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, tc := range []struct{ in, lua, yaml string }{
		{"plain", `"plain"`, `"plain"`},
		{`a"b\c`, `"a\"b\\c"`, `"a\"b\\c"`},
		{"new\nline", `"new\010line"`, `"new\x0aline"`},
	} {
		if got := luaQuote(tc.in); got != tc.lua {
			t.Errorf("luaQuote(%q) = %s, want %s", tc.in, got, tc.lua)
		}
		if got := yamlQuote(tc.in); got != tc.yaml {
			t.Errorf("yamlQuote(%q) = %s, want %s", tc.in, got, tc.yaml)
		}
	}
}

func TestElement(t *testing.T) {
	raw := `<message xmlns="jabber:client" from="a@b/c" type="error" id="7"><body>hi &amp; bye</body>` +
		`<error type="cancel"><forbidden xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>` +
		`<text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">not you</text></error></message>`
	e, err := ParseElement(raw)
	if err != nil {
		t.Fatal(err)
	}
	cond, text := e.ErrorCondition()
	for _, c := range []struct{ name, got, want string }{
		{"name", e.Name.Local, "message"},
		{"space", e.Name.Space, "jabber:client"},
		{"from", e.From(), "a@b/c"},
		{"id", e.ID(), "7"},
		{"body", e.ChildText("body"), "hi & bye"},
		{"condition", cond, "forbidden"},
		{"text", text, "not you"},
		{"find", e.FindText("error", "text"), "not you"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !Message("a@b")(e) || Message("x@b")(e) || !From("a@b/c")(e) || From("a@b/d")(e) {
		t.Errorf("matchers disagree with %s", e)
	}
	again, err := ParseElement(e.String())
	if err != nil || again.String() != e.String() {
		t.Errorf("String does not round-trip: %s (%v)", e.String(), err)
	}
	if e.Child("nothing").Child("deeper") != nil || e.FindText("a", "b") != "" {
		t.Errorf("nil-safe chaining broken")
	}
}

func TestStanzaTokens(t *testing.T) {
	for _, tc := range []struct {
		raw    string
		wantID string // "" means generated
	}{
		{"<presence/>", ""},
		{"<iq type='get' id='x1'><query xmlns='jabber:iq:roster'/></iq>", "x1"},
		{"<message to='a@b'><body>t</body><x xmlns:p='urn:p' p:attr='1'/></message>", ""},
	} {
		toks, id, err := stanzaTokens(tc.raw)
		if err != nil {
			t.Fatalf("%s: %v", tc.raw, err)
		}
		if tc.wantID != "" && id != tc.wantID || id == "" {
			t.Errorf("%s: id %q", tc.raw, id)
		}
		start := toks[0].(xml.StartElement)
		found := false
		for _, a := range start.Attr {
			found = found || (a.Name.Local == "id" && a.Value == id)
		}
		if !found {
			t.Errorf("%s: top-level element lacks id %q", tc.raw, id)
		}
		for _, tok := range toks {
			if s, ok := tok.(xml.StartElement); ok {
				for _, a := range s.Attr {
					if a.Name.Local == "xmlns" || a.Name.Space == "xmlns" {
						t.Errorf("%s: namespace declaration left in tokens: %v", tc.raw, a)
					}
				}
			}
		}
		if _, ok := toks[len(toks)-1].(xml.EndElement); !ok {
			t.Errorf("%s: tokens do not end with the end element", tc.raw)
		}
	}
	if _, _, err := stanzaTokens("<unclosed>"); err == nil || !strings.Contains(err.Error(), "parse") {
		t.Errorf("unclosed element: err %v", err)
	}
}

// fakeT records how a starter ended; Fatalf and Skipf stop the goroutine as
// testing.T's do.
type fakeT struct {
	dir            string
	fatal, skipped string
	cleanups       []func()
}

func (f *fakeT) Helper()             {}
func (f *fakeT) Logf(string, ...any) {}
func (f *fakeT) Fatalf(format string, a ...any) {
	f.fatal = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeT) Skipf(format string, a ...any) {
	f.skipped = fmt.Sprintf(format, a...)
	runtime.Goexit()
}
func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeT) TempDir() string   { return f.dir }
func (f *fakeT) Failed() bool      { return f.fatal != "" }

func run(f *fakeT, fn func(T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

// TestMissingServer: without the binaries a starter skips, or fails when
// RequireEnv is set (as make test and CI set it).
func TestMissingServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, kind := range Kinds() {
		for _, require := range []string{"", "1"} {
			t.Setenv(RequireEnv, require)
			t.Setenv("XGATE_EJABBERD_LIBS", "")
			f := &fakeT{dir: t.TempDir()}
			run(f, func(tt T) { StartServer(tt, kind, ServerOptions{}) })
			switch {
			case require == "" && (f.skipped == "" || f.fatal != ""):
				t.Errorf("%s missing, %s unset: want a skip, got skip %q fatal %q", kind, RequireEnv, f.skipped, f.fatal)
			case require == "1" && (f.fatal == "" || f.skipped != ""):
				t.Errorf("%s missing, %s=1: want a failure, got skip %q fatal %q", kind, RequireEnv, f.skipped, f.fatal)
			}
		}
	}
}
