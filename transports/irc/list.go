package irc

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"xgate/mapping"
	"xgate/transports"
)

// listCacheFor is how long a LIST reply serves the next pages.
const listCacheFor = time.Minute

// listPageMax is the page size when the request sets no (or a larger) max.
const listPageMax = 100

type (
	// listReq is a disco#items request waiting for LIST.
	listReq struct {
		st  transports.Stanza
		rsm *rsmSet
	}
	// listEntry is one channel of a LIST reply.
	listEntry struct {
		name  string
		users int
		topic string
	}
)

// list answers disco#items on the server with its channels (LIST), a page
// at a time (XEP-0059: max, after, before, index). A reply less than a
// minute old serves the next pages without asking the server again.
func (s *session) list(st transports.Stanza, q *itemsQuery) {
	var set *rsmSet
	if q != nil {
		set = q.Set
	}
	if s.listCache != nil && time.Since(s.listAt) < listCacheFor && set != nil && (set.After != "" || set.Before != nil || set.Index != nil) {
		s.u.send(s.listPage(st, set, s.listCache))
		return
	}
	s.lists = append(s.lists, listReq{st: st, rsm: set})
	if len(s.lists) == 1 {
		s.listing = []listEntry{}
		s.queue("LIST")
	}
}

// listReply handles RPL_LIST (322) and RPL_LISTEND (323).
func (s *session) listReply(command string, params []string) {
	if command == "322" {
		if len(params) >= 3 && s.listing != nil {
			n, _ := strconv.Atoi(params[2])
			topic := ""
			if len(params) >= 4 {
				topic = s.text(params[3])
			}
			s.listing = append(s.listing, listEntry{name: params[1], users: n, topic: topic})
		}
		return
	}
	all := s.listing
	if all == nil {
		return
	}
	sort.Slice(all, func(i, j int) bool { return s.fold(all[i].name) < s.fold(all[j].name) })
	s.listCache, s.listAt, s.listing = all, time.Now(), nil
	for _, req := range s.lists {
		s.u.send(s.listPage(req.st, req.rsm, all))
	}
	s.lists = nil
	s.listDone()
}

// failLists answers the waiting LIST requests with an error.
func (s *session) failLists(reason string) {
	for _, req := range s.lists {
		s.u.t.replyError(req.st, "remote-server-timeout", reason)
	}
	s.lists, s.listing = nil, nil
}

// listPage is the disco#items result for one page of all.
func (s *session) listPage(st transports.Stanza, set *rsmSet, all []listEntry) *el {
	max := listPageMax
	start := 0
	if set != nil {
		if set.Max != nil && *set.Max >= 0 && *set.Max < max {
			max = *set.Max
		}
		switch {
		case set.After != "":
			start = len(all)
			for i, e := range all {
				if s.fold(e.name) > s.fold(set.After) {
					start = i
					break
				}
			}
		case set.Before != nil && *set.Before != "":
			end := 0
			for i, e := range all {
				if s.fold(e.name) < s.fold(*set.Before) {
					end = i + 1
				}
			}
			start = max0(end - max)
		case set.Before != nil: // <before/>: the last page
			start = max0(len(all) - max)
		case set.Index != nil:
			start = min(max0(*set.Index), len(all))
		}
	}
	end := min(start+max, len(all))
	q := elem(nsDiscoItems, "query")
	for _, e := range all[start:end] {
		jid := mapping.IRCAddress{Kind: mapping.IRCChannel, Name: strings.ToLower(e.name), Server: s.key}.Local() + "@" + s.u.t.cfg.Domain
		name := e.name + " (" + strconv.Itoa(e.users) + ")"
		if e.topic != "" {
			name += ": " + e.topic
		}
		q.add(elem("", "item", "jid", jid, "name", name))
	}
	rs := elem(nsRSM, "set")
	if end > start {
		rs.add(textEl("first", all[start].name), textEl("last", all[end-1].name))
		rs.kids[0].attrs = append(rs.kids[0].attrs, xattr("index", strconv.Itoa(start)))
	}
	rs.add(textEl("count", strconv.Itoa(len(all))))
	q.add(rs)
	return elem("", "iq", "from", st.To, "to", st.From, "type", "result", "id", st.ID).add(q)
}

func max0(n int) int { return max(n, 0) }
