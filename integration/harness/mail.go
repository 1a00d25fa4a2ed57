package harness

import (
	"context"
	"fmt"
	"net/smtp"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// MailOptions configure StartMail.
type MailOptions struct {
	// Domain is the mail domain whose mailboxes Dovecot holds (default
	// "example.test").
	Domain string
	// Users are the mailboxes, local part → password (default bob/bobpass).
	Users map[string]string
	// GatewayDomain is relayed by Postfix to GatewayAddr (xgate's inbound
	// listener), with GatewayLMTP over LMTP instead of SMTP.
	GatewayDomain string
	GatewayAddr   string
	GatewayLMTP   bool
}

// Mail is a private Postfix (SMTP on SMTPAddr; mailboxes of Domain delivered
// to Dovecot over LMTP; GatewayDomain relayed to the gateway) and Dovecot
// (IMAP on IMAPAddr) on free 127.0.0.1 ports.
type Mail struct {
	Domain   string
	SMTPAddr string
	IMAPAddr string
	LMTPAddr string
	Dir      string

	postfixDir string
	postfixBin string
	postfix    *process
	dovecot    *process
}

// StartMail starts Postfix and Dovecot as RECIPES §3 describes, and stops them
// at cleanup. It skips the test (fails with RequireEnv) when either is not
// installed, and needs root (Postfix and Dovecot drop privileges to their
// own users; mailboxes belong to the user mail).
//
// Facts it relies on: directories must be 0755 up to / (Dovecot's auth runs
// as dovecot, mail as uid mail: a 0700 parent gives LMTP 451); the passwd-file
// lines need their trailing colons; Postfix logs only to maillog_file, which
// must match maillog_file_prefixes; start-fg's master is a child of sh, so
// Postfix is stopped with `postfix -c DIR stop`.
func StartMail(t T, opts MailOptions) *Mail {
	t.Helper()
	postfix, err := exec.LookPath("postfix")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/postfix"); e == nil {
			postfix = "/usr/sbin/postfix"
		} else {
			Missing(t, "postfix (apt-get install postfix, see make deps-test)")
			return nil
		}
	}
	dovecot, err := exec.LookPath("dovecot")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/dovecot"); e == nil {
			dovecot = "/usr/sbin/dovecot"
		} else {
			Missing(t, "dovecot (apt-get install dovecot-imapd dovecot-lmtpd)")
			return nil
		}
	}
	if os.Geteuid() != 0 {
		t.Skipf("harness: Postfix and Dovecot instances need root")
	}
	if opts.Domain == "" {
		opts.Domain = "example.test"
	}
	if opts.Users == nil {
		opts.Users = map[string]string{"bob": "bobpass"}
	}
	dir := serverDir(t, "mail")
	// serverDir opens dir and its parent; open every ancestor that Go's
	// TempDir made private too.
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o005 != 0o005 {
			_ = os.Chmod(p, st.Mode().Perm()|0o755)
		}
	}
	m := &Mail{
		Domain:   opts.Domain,
		SMTPAddr: Addr(FreePort(t)),
		IMAPAddr: Addr(FreePort(t)),
		LMTPAddr: Addr(FreePort(t)),
		Dir:      dir,
	}
	m.postfixDir = filepath.Join(dir, "postfix")
	m.postfixBin = postfix
	for _, sub := range []string{"postfix", "postfix-spool", "mail", "dovecot", "dovecot/run", "dovecot/state"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatalf("harness: mail: %v", err)
		}
	}
	if u, err := user.Lookup("mail"); err == nil {
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		_ = os.Chown(filepath.Join(dir, "mail"), uid, gid)
	}
	var users strings.Builder
	for u, p := range opts.Users {
		fmt.Fprintf(&users, "%s@%s:{PLAIN}%s::::::\n", u, opts.Domain, p)
	}
	files := map[string]string{
		"postfix/main.cf":      m.mainCF(opts),
		"postfix/master.cf":    m.masterCF(),
		"dovecot/dovecot.conf": m.dovecotConf(),
		"dovecot/users":        users.String(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatalf("harness: mail: write %s: %v", name, err)
		}
	}

	m.dovecot = newProcess("dovecot", filepath.Join(dir, "dovecot-stdout.log"))
	m.postfix = newProcess("postfix", filepath.Join(dir, "postfix-stdout.log"))
	dumpOnFailure(t, "mail", filepath.Join(dir, "postfix.log"), filepath.Join(dir, "dovecot", "dovecot.log"),
		m.dovecot.logPath, m.postfix.logPath)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if out, err := exec.CommandContext(ctx, postfix, "-c", m.postfixDir, "stop").CombinedOutput(); err != nil && m.postfix.running() {
			t.Logf("harness: postfix stop: %v: %s", err, out)
		}
		if err := m.postfix.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: postfix: %v", err)
		}
		if err := m.dovecot.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: dovecot: %v", err)
		}
	})
	if err := m.dovecot.start(dir, nil, dovecot, "-F", "-c", filepath.Join(dir, "dovecot", "dovecot.conf")); err != nil {
		t.Fatalf("%v", err)
	}
	if err := m.postfix.start(dir, nil, postfix, "-c", m.postfixDir, "start-fg"); err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, w := range []struct {
		addr string
		p    *process
	}{{m.IMAPAddr, m.dovecot}, {m.LMTPAddr, m.dovecot}, {m.SMTPAddr, m.postfix}} {
		if err := WaitTCP(ctx, w.addr, w.p.exited()); err != nil {
			t.Fatalf("harness: mail: %s on %s did not come up: %v", w.p.name, w.addr, err)
		}
	}
	return m
}

func (m *Mail) mainCF(o MailOptions) string {
	transport := "smtp"
	if o.GatewayLMTP {
		transport = "lmtp:inet"
	}
	var relay string
	if o.GatewayDomain != "" {
		relay = fmt.Sprintf("relay_domains = %s\ntransport_maps = inline:{ %s=%s:[%s]:%s }\n",
			o.GatewayDomain, o.GatewayDomain, transport, hostOf(o.GatewayAddr), portOf(o.GatewayAddr))
		if o.GatewayLMTP {
			relay = fmt.Sprintf("relay_domains = %s\ntransport_maps = inline:{ %s=lmtp:inet:%s }\n",
				o.GatewayDomain, o.GatewayDomain, o.GatewayAddr)
		}
	}
	return fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/postfix-spool
data_directory = %[1]s/postfix-data
mail_owner = postfix
setgid_group = postdrop
maillog_file = %[1]s/postfix.log
maillog_file_prefixes = %[1]s, /dev/stdout
myhostname = mx.%[2]s
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = reject_unauth_destination
alias_maps =
alias_database =
smtp_dns_support_level = disabled
virtual_mailbox_domains = %[2]s
virtual_transport = lmtp:inet:%[3]s
%[4]squeue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, m.Dir, o.Domain, m.LMTPAddr, relay)
}

func (m *Mail) masterCF() string {
	return m.SMTPAddr + ` inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
lmtp      unix  - - n -  - lmtp
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
`
}

func (m *Mail) dovecotConf() string {
	return fmt.Sprintf(`instance_name = xgate-test-%[5]s
base_dir = %[1]s/dovecot/run
state_dir = %[1]s/dovecot/state
protocols = imap lmtp
listen = 127.0.0.1
log_path = %[1]s/dovecot/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 8
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[1]s/dovecot/users
  default_fields = uid=mail gid=mail home=%[1]s/mail/%%d/%%n
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]s
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[3]s
  }
}
service anvil {
  chroot =
}
%[4]s`, m.Dir, portOf(m.IMAPAddr), portOf(m.LMTPAddr), "", randomHex(4))
}

func hostOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// Address is user@Domain.
func (m *Mail) Address(user string) string { return user + "@" + m.Domain }

// Submit sends raw (CRLF line endings added if missing) from → to through
// Postfix's SMTP port, as a mail client of bob's would.
func (m *Mail) Submit(t T, from string, to []string, raw string) {
	t.Helper()
	if err := m.SubmitErr(from, to, raw); err != nil {
		t.Fatalf("harness: submit to %v: %v", to, err)
	}
}

// SubmitErr is Submit returning the error.
func (m *Mail) SubmitErr(from string, to []string, raw string) error {
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	return smtp.SendMail(m.SMTPAddr, nil, from, to, []byte(raw))
}

// FetchedMail is one message read over IMAP.
type FetchedMail struct {
	UID imap.UID
	Raw []byte
}

// Inbox reads every message of user's INBOX over IMAP (LOGIN user@Domain).
func (m *Mail) Inbox(user, pass string) ([]FetchedMail, error) {
	c, err := imapclient.DialInsecure(m.IMAPAddr, nil)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Login(m.Address(user), pass).Wait(); err != nil {
		return nil, fmt.Errorf("login %s: %w", m.Address(user), err)
	}
	sel, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return nil, err
	}
	if sel.NumMessages == 0 {
		_ = c.Logout().Wait()
		return nil, nil
	}
	var all imap.SeqSet
	all.AddRange(1, sel.NumMessages)
	bufs, err := c.Fetch(all, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
	if err != nil {
		return nil, err
	}
	out := make([]FetchedMail, 0, len(bufs))
	for _, b := range bufs {
		var raw []byte
		if len(b.BodySection) > 0 {
			raw = b.BodySection[0].Bytes
		}
		out = append(out, FetchedMail{UID: b.UID, Raw: raw})
	}
	_ = c.Logout().Wait()
	return out, nil
}

// WaitInbox waits until user's INBOX holds at least n messages and returns
// them.
func (m *Mail) WaitInbox(t T, user, pass string, n int, timeout time.Duration) []FetchedMail {
	t.Helper()
	var got []FetchedMail
	Eventually(t, timeout, fmt.Sprintf("%d message(s) in %s's INBOX", n, user), func() (bool, string) {
		var err error
		got, err = m.Inbox(user, pass)
		if err != nil {
			return false, err.Error()
		}
		return len(got) >= n, fmt.Sprintf("%d message(s)", len(got))
	})
	return got
}

// Append stores raw in user's mailbox over IMAP (a catch-all for the IMAP
// mode of a gateway).
func (m *Mail) Append(user, pass, mailbox, raw string) error {
	raw = strings.ReplaceAll(strings.ReplaceAll(raw, "\r\n", "\n"), "\n", "\r\n")
	c, err := imapclient.DialInsecure(m.IMAPAddr, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(m.Address(user), pass).Wait(); err != nil {
		return err
	}
	cmd := c.Append(mailbox, int64(len(raw)), nil)
	if _, err := cmd.Write([]byte(raw)); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	if _, err := cmd.Wait(); err != nil {
		return err
	}
	return c.Logout().Wait()
}

// PostfixLog returns Postfix's log so far.
func (m *Mail) PostfixLog() string {
	return tailFile(filepath.Join(m.Dir, "postfix.log"), logTailLimit)
}

// StopPostfix stops Postfix (its SMTP port refuses connections after) and
// waits for it to exit; mail queued in it stays in its spool.
func (m *Mail) StopPostfix(t T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, m.postfixBin, "-c", m.postfixDir, "stop").CombinedOutput(); err != nil {
		t.Logf("harness: postfix stop: %v: %s", err, out)
	}
	if err := m.postfix.stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Logf("harness: postfix: %v", err)
	}
}

// StartPostfix starts Postfix again after StopPostfix and waits for its SMTP
// port.
func (m *Mail) StartPostfix(t T) {
	t.Helper()
	if err := m.postfix.start(m.Dir, nil, m.postfixBin, "-c", m.postfixDir, "start-fg"); err != nil {
		t.Fatalf("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := WaitTCP(ctx, m.SMTPAddr, m.postfix.exited()); err != nil {
		t.Fatalf("harness: mail: postfix on %s did not come back: %v", m.SMTPAddr, err)
	}
}
