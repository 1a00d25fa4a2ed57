package component

import (
	"encoding/xml"
	"runtime"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Namespaces of the protocols every domain answers.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsVersion    = "jabber:iq:version"
	nsPing       = "urn:xmpp:ping"
	nsRegister   = "jabber:iq:register"
	nsGateway    = "jabber:iq:gateway"
	nsCommands   = "http://jabber.org/protocol/commands"
	nsOOB        = "jabber:x:oob"
	nsReceipts   = "urn:xmpp:receipts"
	nsSID        = "urn:xmpp:sid:0"
	nsDelay      = "urn:xmpp:delay"
	nsMarkers    = "urn:xmpp:chat-markers:0"
)

// ReceiptAnnouncer may be implemented by a transport that calls
// Uplink.Receipt (its network reports delivery). Only then do the domain and
// its contacts announce urn:xmpp:receipts in disco#info: announcing receipts
// that never come would make clients wait for them.
type ReceiptAnnouncer interface {
	SendsReceipts() bool
}

type discoIdentity struct {
	Category string `xml:"category,attr"`
	Type     string `xml:"type,attr"`
	Name     string `xml:"name,attr,omitempty"`
}

type discoFeature struct {
	Var string `xml:"var,attr"`
}

type discoInfo struct {
	XMLName    xml.Name        `xml:"http://jabber.org/protocol/disco#info query"`
	Node       string          `xml:"node,attr,omitempty"`
	Identities []discoIdentity `xml:"identity"`
	Features   []discoFeature  `xml:"feature"`
	Forms      []dataForm      `xml:"jabber:x:data x"`
}

type discoItem struct {
	JID  string `xml:"jid,attr"`
	Node string `xml:"node,attr,omitempty"`
	Name string `xml:"name,attr,omitempty"`
}

type discoItems struct {
	XMLName xml.Name    `xml:"http://jabber.org/protocol/disco#items query"`
	Node    string      `xml:"node,attr,omitempty"`
	Items   []discoItem `xml:"item"`
}

// domainFeatures is what the domain itself supports, in the order shown. Each
// entry is backed by a handler in this package.
func (g *Gateway) domainFeatures() []string {
	f := []string{
		nsDiscoInfo, nsDiscoItems, nsCommands, nsRegister, nsVersion, nsPing, nsData,
	}
	if g.prompter != nil {
		f = append(f, nsGateway)
	}
	if g.receipts {
		f = append(f, nsReceipts)
	}
	return f
}

func features(vars []string) []discoFeature {
	out := make([]discoFeature, len(vars))
	for i, v := range vars {
		out[i] = discoFeature{Var: v}
	}
	return out
}

// handleDiscoInfo answers disco#info on the domain (the transport's identity
// and the features above), on the command node and each command, and on
// contact JIDs. A contact with a valid address is described as
// client/<transport type> (category client: it is someone's account on the
// remote network, reached through this gateway) with disco#info only, plus
// receipts when the transport reports them. A localpart the transport rejects
// is item-not-found with the transport's reason: the JID is syntactically
// fine (so not jid-malformed), there is just no such entity behind it.
func (g *Gateway) handleDiscoInfo(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var q discoInfo
	if err := decodePayload(t, start, &q); err != nil {
		return err
	}
	res := discoInfo{Node: q.Node}
	local := iq.To.Localpart()
	switch {
	case local != "" && q.Node == nsCommands && len(g.contactCommands(local, iq.From)) > 0:
		res.Identities = []discoIdentity{{Category: "automation", Type: "command-list", Name: "Commands"}}
		res.Features = features([]string{nsDiscoInfo, nsDiscoItems, nsCommands})
	case local != "":
		if q.Node != "" {
			return writeIQError(t, iq, newError(stanza.ItemNotFound, "no such node"))
		}
		if err := g.checkAddress(local); err != nil {
			return writeIQError(t, iq, newError(stanza.ItemNotFound, err.Error()))
		}
		res.Identities = []discoIdentity{{Category: "client", Type: g.identity.Type, Name: local}}
		vars := []string{nsDiscoInfo}
		if g.receipts {
			vars = append(vars, nsReceipts)
		}
		res.Features = features(vars)
	case q.Node == "":
		res.Identities = []discoIdentity{{Category: g.identity.Category, Type: g.identity.Type, Name: g.identity.Name}}
		res.Features = features(g.domainFeatures())
	case q.Node == nsCommands:
		res.Identities = []discoIdentity{{Category: "automation", Type: "command-list", Name: "Commands"}}
		res.Features = features([]string{nsDiscoInfo, nsDiscoItems, nsCommands})
	default:
		cmd, ok := g.command(q.Node, iq.From)
		if !ok {
			return writeIQError(t, iq, newError(stanza.ItemNotFound, "no such node"))
		}
		res.Identities = []discoIdentity{{Category: "automation", Type: "command-node", Name: cmd.name}}
		res.Features = features([]string{nsCommands, nsData})
	}
	_, err := xmlstream.Copy(t, iq.Result(marshalTokens(res)))
	return err
}

// handleDiscoItems answers disco#items: the domain has no items (contacts are
// not listable), the command node lists the commands the requester may run,
// and a contact has no items.
func (g *Gateway) handleDiscoItems(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	var q discoItems
	if err := decodePayload(t, start, &q); err != nil {
		return err
	}
	res := discoItems{Node: q.Node}
	switch {
	case q.Node == "":
	case q.Node == nsCommands && iq.To.Localpart() == "":
		for _, c := range g.commandsFor(iq.From) {
			res.Items = append(res.Items, discoItem{JID: g.cfg.Domain, Node: c.node, Name: c.name})
		}
	case q.Node == nsCommands:
		for _, c := range g.contactCommands(iq.To.Localpart(), iq.From) {
			res.Items = append(res.Items, discoItem{JID: iq.To.Bare().String(), Node: c.node, Name: c.name})
		}
	default:
		return writeIQError(t, iq, newError(stanza.ItemNotFound, "no such node"))
	}
	_, err := xmlstream.Copy(t, iq.Result(marshalTokens(res)))
	return err
}

type versionQuery struct {
	XMLName xml.Name `xml:"jabber:iq:version query"`
	Name    string   `xml:"name,omitempty"`
	Version string   `xml:"version,omitempty"`
	OS      string   `xml:"os,omitempty"`
}

// handleVersion answers XEP-0092 on the domain (name xgate, the configured
// version, the operating system). Contacts do not answer it: the remote
// network's software is unknown.
func (g *Gateway) handleVersion(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.To.Localpart() != "" {
		return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "contacts on this gateway do not report a software version"))
	}
	v := g.cfg.Version
	if v == "" {
		v = "unknown"
	}
	_, err := xmlstream.Copy(t, iq.Result(marshalTokens(versionQuery{Name: "xgate", Version: v, OS: runtime.GOOS})))
	return err
}

// handlePing answers XEP-0199 on the domain. A ping to a contact is
// service-unavailable: the gateway cannot tell whether a phone or mailbox is
// reachable, and answering for it would mislead.
func (g *Gateway) handlePing(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.To.Localpart() != "" {
		return writeIQError(t, iq, newError(stanza.ServiceUnavailable, "contacts on this gateway cannot be pinged"))
	}
	_, err := xmlstream.Copy(t, iq.Result(nil))
	return err
}

// writeIQError answers iq with e.
func writeIQError(t xmlstream.Encoder, iq stanza.IQ, e stanza.Error) error {
	_, err := xmlstream.Copy(t, iq.Error(e))
	return err
}

// contactCommands lists the commands from may run on the contact local.
func (g *Gateway) contactCommands(local string, from jid.JID) []command {
	var out []command
	for _, c := range g.commandsFor(from) {
		if c.contact == nil {
			continue
		}
		if _, ok := c.contact(local); ok {
			out = append(out, c)
		}
	}
	return out
}
