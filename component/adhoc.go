package component

import (
	"context"
	"encoding/xml"
	"errors"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"xgate/transports"
)

// XEP-0050 ad-hoc commands on the domain: listed in disco#items at node
// http://jabber.org/protocol/commands, executed with iq set <command/>.
// A multi-step command keeps a session (sessionid) between steps: each step
// shows a form; the next request submits it (next, complete or execute),
// or cancels. Submitted values are checked against the form that was shown
// (required fields, list options, booleans) before the command sees them, and
// a bad value is answered not-acceptable naming the field with the session
// kept, so the user can correct it. Every step runs off the reader goroutine.
//
// The component's own commands are "status" and "unregister"; a transport
// that is a Commander adds its own (the component's win a node clash).
// Commands marked admin are shown to and run by the configured admins only.

const (
	// sessionTTL is how long an unfinished command session is kept.
	sessionTTL = 10 * time.Minute
	// maxSessions caps the unfinished sessions kept at once.
	maxSessions = 1000
)

// command is one ad-hoc command. run is called for each step with the
// submitted values (nil on step 0).
type command struct {
	node, name string
	admin      bool
	// contact, when set, offers the command on the contacts it accepts
	// (transports.Command.Contact).
	contact func(local string) (map[string]string, bool)
	run     func(ctx context.Context, from jid.JID, step int, values map[string]string) cmdResult
}

// cmdResult is the outcome of one step: a form to show next, or a final note
// (noteType info, warn or error), or an error for the user.
type cmdResult struct {
	form     *transports.Form
	final    bool // the form shown is the last step: offer complete only
	note     string
	noteType string
	err      error
	after    []xml.TokenReader // stanzas sent after the answer (presence)
}

type cmdRequest struct {
	Node      string     `xml:"node,attr"`
	Action    string     `xml:"action,attr"`
	SessionID string     `xml:"sessionid,attr"`
	Forms     []dataForm `xml:"jabber:x:data x"`
}

type cmdResponse struct {
	XMLName   xml.Name    `xml:"http://jabber.org/protocol/commands command"`
	Node      string      `xml:"node,attr"`
	SessionID string      `xml:"sessionid,attr,omitempty"`
	Status    string      `xml:"status,attr"`
	Actions   *cmdActions `xml:"actions"`
	Notes     []cmdNote   `xml:"note"`
	Form      *dataForm   `xml:"jabber:x:data x"`
}

type cmdActions struct {
	Execute  string    `xml:"execute,attr,omitempty"`
	Next     *struct{} `xml:"next"`
	Complete *struct{} `xml:"complete"`
}

type cmdNote struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

// commandSession is the state between two steps of a command.
type commandSession struct {
	node    string
	owner   string // full JID that started it
	to      string // the JID it runs on (the domain or a contact)
	step    int
	fields  []transports.Field
	expires time.Time
}

// commandSessions is shared by the reader goroutine and the async steps.
type commandSessions struct {
	mu sync.Mutex
	m  map[string]commandSession
}

func newCommandSessions() *commandSessions {
	return &commandSessions{m: map[string]commandSession{}}
}

func (cs *commandSessions) get(id string, now time.Time) (commandSession, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s, ok := cs.m[id]
	if ok && now.After(s.expires) {
		delete(cs.m, id)
		return commandSession{}, false
	}
	return s, ok
}

// put stores s under id; it reports false when too many sessions are open.
func (cs *commandSessions) put(id string, s commandSession, now time.Time) bool {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if _, ok := cs.m[id]; !ok && len(cs.m) >= maxSessions {
		for k, v := range cs.m {
			if now.After(v.expires) {
				delete(cs.m, k)
			}
		}
		if len(cs.m) >= maxSessions {
			return false
		}
	}
	s.expires = now.Add(sessionTTL)
	cs.m[id] = s
	return true
}

func (cs *commandSessions) delete(id string) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.m, id)
}

// commands lists every command, the component's first.
func (g *Gateway) commands() []command {
	cmds := []command{
		{node: "status", name: "Status", run: g.statusCommand},
		{node: "unregister", name: "Unregister", run: g.unregisterCommand},
	}
	if g.commander == nil {
		return cmds
	}
	for _, c := range g.commander.Commands() {
		if c.Node == "" || c.Execute == nil || c.Node == "status" || c.Node == "unregister" {
			continue
		}
		exec := c.Execute
		cmds = append(cmds, command{node: c.Node, name: c.Name, admin: c.Admin, contact: c.Contact, run: func(ctx context.Context, from jid.JID, step int, values map[string]string) cmdResult {
			next, note, err := exec(ctx, from.Bare().String(), step, values)
			return cmdResult{form: next, note: note, noteType: "info", err: err}
		}})
	}
	return cmds
}

// commandsFor lists the commands from may see.
func (g *Gateway) commandsFor(from jid.JID) []command {
	var out []command
	admin := g.isAdmin(from)
	for _, c := range g.commands() {
		if !c.admin || admin {
			out = append(out, c)
		}
	}
	return out
}

// command finds node among the commands from may run.
func (g *Gateway) command(node string, from jid.JID) (command, bool) {
	for _, c := range g.commandsFor(from) {
		if c.node == node {
			return c, true
		}
	}
	return command{}, false
}

func badSession(text string) xml.TokenReader {
	return withAppCondition(newError(stanza.BadRequest, text), nsCommands, "bad-sessionid")
}

func (g *Gateway) handleCommand(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var req cmdRequest
	if err := decodePayload(t, start, &req); err != nil {
		return err
	}
	cmd, ok := g.command(req.Node, iq.From)
	if !ok {
		return writeIQError(t, iq, newError(stanza.ItemNotFound, "no such command"))
	}
	local := iq.To.Localpart()
	var prefill map[string]string
	if local != "" {
		if cmd.contact != nil {
			prefill, ok = cmd.contact(local)
		}
		if cmd.contact == nil || !ok {
			return writeIQError(t, iq, newError(stanza.ItemNotFound, "this command is run on "+g.cfg.Domain+", not on "+iq.To.Bare().String()))
		}
	}
	action := req.Action
	if action == "" {
		action = "execute"
	}
	var form *dataForm
	if len(req.Forms) > 0 {
		form = &req.Forms[0]
		if form.Type == "cancel" {
			action = "cancel"
		}
	}
	now := g.now()
	step, id := 0, req.SessionID
	var values map[string]string
	if id == "" {
		if action != "execute" {
			_, err := xmlstream.Copy(t, iqError(iq, badSession("no session to "+action)))
			return err
		}
		id = g.newID()
		if local != "" {
			step, values = 1, prefill // the contact answers the first form
		}
	} else {
		s, ok := g.sessions.get(id, now)
		if !ok || s.node != req.Node || s.owner != iq.From.String() || s.to != iq.To.Bare().String() {
			_, err := xmlstream.Copy(t, iqError(iq, badSession("unknown or expired session")))
			return err
		}
		switch action {
		case "cancel":
			g.sessions.delete(id)
			_, err := xmlstream.Copy(t, iq.Result(marshalTokens(cmdResponse{Node: req.Node, SessionID: id, Status: "canceled"})))
			return err
		case "next", "complete", "execute":
		default:
			_, err := xmlstream.Copy(t, iqError(iq, withAppCondition(newError(stanza.BadRequest, "action "+action+" is not supported"), nsCommands, "bad-action")))
			return err
		}
		values = map[string]string{}
		if form != nil {
			values = submittedValues(*form)
		}
		checked, err := checkValues(s.fields, values)
		if err != nil {
			return writeIQError(t, iq, transportError(err, ""))
		}
		for k, v := range values { // keep values of fields the form did not declare
			if _, ok := checked[k]; !ok {
				checked[k] = v
			}
		}
		values, step = checked, s.step
	}
	return g.runAsync(t, iq, func(ctx context.Context) { g.runCommand(ctx, iq, cmd, id, step, values) })
}

// runCommand runs one step and answers it.
func (g *Gateway) runCommand(ctx context.Context, iq stanza.IQ, cmd command, id string, step int, values map[string]string) {
	res := cmd.run(ctx, iq.From, step, values)
	if res.err != nil {
		var fe *transports.FieldError
		if !errors.As(res.err, &fe) {
			g.sessions.delete(id)
		}
		g.log.Info("command failed", "node", cmd.node, "user", iq.From.Bare().String(), "err", res.err)
		g.send(ctx, iq.Error(transportError(res.err, "the command failed")))
		return
	}
	resp := cmdResponse{Node: cmd.node, SessionID: id}
	if res.note != "" {
		typ := res.noteType
		if typ == "" {
			typ = "info"
		}
		resp.Notes = []cmdNote{{Type: typ, Text: res.note}}
	}
	if res.form == nil {
		g.sessions.delete(id)
		resp.Status = "completed"
		g.send(ctx, iq.Result(marshalTokens(resp)))
		g.sendAll(ctx, res.after...)
		return
	}
	if !g.sessions.put(id, commandSession{node: cmd.node, owner: iq.From.String(), to: iq.To.Bare().String(), step: step + 1, fields: res.form.Fields}, g.now()) {
		g.send(ctx, iq.Error(newError(stanza.ResourceConstraint, "too many commands are in progress; try again later")))
		return
	}
	f := buildForm("", res.form.Title, res.form.Instructions, res.form.Fields, res.form.Values)
	resp.Status = "executing"
	resp.Form = &f
	if res.final {
		resp.Actions = &cmdActions{Execute: "complete", Complete: &struct{}{}}
	} else {
		resp.Actions = &cmdActions{Execute: "next", Next: &struct{}{}, Complete: &struct{}{}}
	}
	g.send(ctx, iq.Result(marshalTokens(resp)))
}
