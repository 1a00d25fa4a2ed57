package email

import (
	"regexp"
	"strings"

	"golang.org/x/net/html"
)

// htmlToText turns an HTML mail body into readable text: block elements
// become line breaks, links keep their target, lists get bullets, quoted
// history (<blockquote>, Gmail's gmail_quote) and scripts/styles are dropped.
func htmlToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0 // depth inside elements whose content is dropped
	var skipTag []string
	var href []string // open <a> targets
	newline := func() {
		str := b.String()
		if !strings.HasSuffix(str, "\n") && str != "" {
			b.WriteString("\n")
		}
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyText(b.String())
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := collapseSpace(string(z.Text()))
			if t == " " && (b.Len() == 0 || strings.HasSuffix(b.String(), "\n")) {
				continue
			}
			b.WriteString(t)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			tag := string(name)
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			if skip > 0 {
				if tt == html.StartTagToken && tag == skipTag[len(skipTag)-1] {
					skip++
				}
				continue
			}
			switch {
			case tag == "script" || tag == "style" || tag == "head" || tag == "title" || tag == "blockquote" ||
				(tag == "div" && strings.Contains(attrs["class"], "gmail_quote")):
				if tt == html.StartTagToken {
					skip = 1
					skipTag = append(skipTag, tag)
				}
			case tag == "br":
				b.WriteString("\n")
			case tag == "p" || tag == "div" || tag == "tr" || tag == "h1" || tag == "h2" || tag == "h3" || tag == "h4" || tag == "ul" || tag == "ol" || tag == "table" || tag == "pre":
				newline()
			case tag == "li":
				newline()
				b.WriteString("• ")
			case tag == "a":
				if tt == html.StartTagToken {
					href = append(href, attrs["href"])
				}
			case tag == "img":
				if alt := strings.TrimSpace(attrs["alt"]); alt != "" {
					b.WriteString("[" + alt + "]")
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if skip > 0 {
				if tag == skipTag[len(skipTag)-1] {
					skip--
					if skip == 0 {
						skipTag = skipTag[:len(skipTag)-1]
					}
				}
				continue
			}
			switch tag {
			case "p", "div", "tr", "h1", "h2", "h3", "h4", "li", "ul", "ol", "table", "pre":
				newline()
				if tag == "p" {
					b.WriteString("\n")
				}
			case "a":
				if n := len(href); n > 0 {
					u := href[n-1]
					href = href[:n-1]
					if (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) && !strings.Contains(b.String()[max(0, b.Len()-len(u)):], u) {
						b.WriteString(" (" + u + ")")
					}
				}
			}
		}
	}
}

var (
	spaceRe     = regexp.MustCompile(`[ \t\r\n\f]+`)
	blankRunsRe = regexp.MustCompile(`\n{3,}`)
)

func collapseSpace(s string) string { return spaceRe.ReplaceAllString(s, " ") }

// tidyText trims lines and collapses runs of blank lines.
func tidyText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(blankRunsRe.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}
