package irc

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"xgate/mapping"
	"xgate/store"
	"xgate/transports"
)

const (
	nsMAM     = "urn:xmpp:mam:2"
	nsForward = "urn:xmpp:forward:0"
	nsData    = "jabber:x:data"
	nsClient  = "jabber:client"
)

// mamQuery is a XEP-0313 query: a data form with start, end and with, and
// XEP-0059 paging.
type mamQuery struct {
	QueryID string `xml:"queryid,attr"`
	Form    *struct {
		Fields []struct {
			Var    string   `xml:"var,attr"`
			Values []string `xml:"value"`
		} `xml:"field"`
	} `xml:"jabber:x:data x"`
	Set *rsmSet `xml:"http://jabber.org/protocol/rsm set"`
}

// archiveJID is the archive a MAM query addresses: a room (its lines) or a
// nick (the private messages with it); "" for anything else.
func (t *Transport) archiveJID(addr mapping.IRCAddress) string {
	switch {
	case addr.Kind == mapping.IRCChannel && addr.Nick == "":
		return roomKey(addr.Name, addr.Server) + "@" + t.cfg.Domain
	case addr.Kind == mapping.IRCNick:
		return mapping.IRCAddress{Kind: mapping.IRCNick, Name: strings.ToLower(addr.Name), Server: strings.ToLower(addr.Server)}.Local() + "@" + t.cfg.Domain
	}
	return ""
}

// handleMAM answers a XEP-0313 request: get is the search form, set a
// query, answered off the user's goroutine (an archive read may take a
// while): the results, then the IQ with <fin/>.
func (u *user) handleMAM(st transports.Stanza, addr mapping.IRCAddress, q *mamQuery) {
	conv := u.t.archiveJID(addr)
	if u.t.archive == nil || conv == "" {
		u.t.replyError(st, "feature-not-implemented", "this gateway keeps no archive for "+st.To)
		return
	}
	if st.Type == "get" {
		form := elem(nsData, "x", "type", "form").add(
			elem("", "field", "var", "FORM_TYPE", "type", "hidden").add(textEl("value", nsMAM)),
			elem("", "field", "var", "with", "type", "jid-single"),
			elem("", "field", "var", "start", "type", "text-single"),
			elem("", "field", "var", "end", "type", "text-single"))
		u.send(elem("", "iq", "from", st.To, "to", st.From, "type", "result", "id", st.ID).add(elem(nsMAM, "query").add(form)))
		return
	}
	aq, err := mamArchiveQuery(q)
	if err != nil {
		u.t.replyError(st, "bad-request", err.Error())
		return
	}
	aq.Transport, aq.User, aq.Conversation = "irc", u.jid, conv
	countOnly := q != nil && q.Set != nil && q.Set.Max != nil && *q.Set.Max == 0
	if countOnly {
		aq.Max = 1
	}
	queryID := ""
	if q != nil {
		queryID = q.QueryID
	}
	t := u.t
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.runMAM(st, conv, queryID, aq, countOnly)
	}()
}

// mamArchiveQuery reads the form and the paging of q.
func mamArchiveQuery(q *mamQuery) (store.ArchiveQuery, error) {
	var aq store.ArchiveQuery
	if q == nil {
		return aq, nil
	}
	if q.Form != nil {
		for _, f := range q.Form.Fields {
			v := ""
			if len(f.Values) > 0 {
				v = strings.TrimSpace(f.Values[0])
			}
			if v == "" {
				continue
			}
			switch f.Var {
			case "with":
				aq.With = v
			case "start", "end":
				ts, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return aq, errors.New(f.Var + " is not a XEP-0082 date and time (2006-01-02T15:04:05Z)")
				}
				if f.Var == "start" {
					aq.Start = ts
				} else {
					aq.End = ts
				}
			case "FORM_TYPE":
			default:
				return aq, errors.New("the field " + f.Var + " is not supported (with, start and end are)")
			}
		}
	}
	if rs := q.Set; rs != nil {
		if rs.Max != nil {
			if *rs.Max < 0 {
				return aq, errors.New("a negative <max/>")
			}
			aq.Max = *rs.Max
		}
		aq.AfterID = strings.TrimSpace(rs.After)
		if rs.Before != nil {
			b := strings.TrimSpace(*rs.Before)
			aq.BeforeID = &b
		}
	}
	return aq, nil
}

// runMAM runs one query and sends its results and the <fin/>.
// With countOnly (RSM <max>0</max>) only the count is answered.
func (t *Transport) runMAM(st transports.Stanza, conv, queryID string, aq store.ArchiveQuery, countOnly bool) {
	ctx, cancel := context.WithTimeout(t.life, archiveTimeout)
	defer cancel()
	page, err := t.queryArchive(ctx, aq)
	switch {
	case errors.Is(err, errArchiveBusy):
		t.replyError(st, "remote-server-timeout", "the archive is busy; try again")
		return
	case errors.Is(err, store.ErrNotFound):
		t.replyError(st, "item-not-found", "no archived message has that id")
		return
	case err != nil:
		t.log.Warn("irc: mam query", "user", aq.User, "archive", conv, "err", err)
		t.replyError(st, "internal-server-error", "the archive could not be read")
		return
	}
	if !countOnly {
		for _, e := range page.Entries {
			t.out.send(t.life, mamResult(st.From, conv, queryID, aq.User, e))
		}
	}
	set := elem(nsRSM, "set")
	if len(page.Entries) > 0 && !countOnly {
		set.add(textEl("first", page.Entries[0].ID), textEl("last", page.Entries[len(page.Entries)-1].ID))
	}
	set.add(textEl("count", strconv.Itoa(page.Count)))
	fin := elem(nsMAM, "fin", "queryid", queryID)
	if page.Complete || countOnly {
		fin.attrs = append(fin.attrs, xattr("complete", "true"))
	}
	t.out.send(t.life, elem("", "iq", "from", st.To, "to", st.From, "type", "result", "id", st.ID).add(fin.add(set)))
}

// mamResult is one archived line forwarded to the querier.
func mamResult(to, conv, queryID, user string, e store.ArchiveEntry) *el {
	var inner *el
	switch {
	case strings.Contains(e.With, "/"): // a room line: from room/nick
		inner = elem(nsClient, "message", "from", e.With, "type", "groupchat", "id", e.ID)
	case e.With == user: // a private message the user sent
		inner = elem(nsClient, "message", "from", user, "to", conv, "type", "chat", "id", e.ID)
	default:
		inner = elem(nsClient, "message", "from", e.With, "to", user, "type", "chat", "id", e.ID)
	}
	inner.add(textEl("body", string(e.Payload)))
	fwd := elem(nsForward, "forwarded").add(delayEl("", e.Time), inner)
	return elem("", "message", "from", conv, "to", to, "id", e.ID).add(
		elem(nsMAM, "result", "queryid", queryID, "id", e.ID).add(fwd))
}

// errArchiveBusy is queryArchive failing to commit what was queued before.
var errArchiveBusy = errors.New("irc: the archive writer did not commit in time")

// queryArchive answers q once every line queued before it is committed, so
// that it sees everything already shown to the user.
func (t *Transport) queryArchive(ctx context.Context, q store.ArchiveQuery) (store.ArchivePage, error) {
	if err := t.archive.Flush(ctx); err != nil {
		return store.ArchivePage{}, fmt.Errorf("%w: %w", errArchiveBusy, err)
	}
	return t.cfg.Archive.QueryArchive(ctx, q)
}
