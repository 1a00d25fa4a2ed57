package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"xgate/integration/harness"
)

// TestDocsPrintTheTestedSnippets keeps docs/prosody.md and docs/ejabberd.md
// in step with the server configuration the integration tests run: each
// snippet the harness generates (for the documentation's example values) must
// appear verbatim in the page.
func TestDocsPrintTheTestedSnippets(t *testing.T) {
	ex := harness.DocExampleValues()
	prosody := []string{harness.ProsodyComponentListenerSnippet(ex.Port)}
	for _, c := range ex.Components {
		prosody = append(prosody, harness.ProsodyComponentSnippet(c.Domain, c.Secret))
	}
	ejabberd := []string{
		harness.EjabberdServiceSnippet(ex.Port, ex.Components),
		harness.EjabberdBalancingSnippet(ex.Balancing),
	}
	for _, tc := range []struct {
		doc      string
		snippets []string
	}{
		{"prosody.md", prosody},
		{"ejabberd.md", ejabberd},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "docs", tc.doc))
			if err != nil {
				t.Fatalf("read docs: %v", err)
			}
			for _, s := range tc.snippets {
				if !strings.Contains(string(data), s) {
					t.Errorf("docs/%s does not contain the snippet the tests use:\n%s", tc.doc, s)
				}
			}
		})
	}
}
