package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// SASLServer is a private InspIRCd 3 with Atheme services linked to it, for
// SASL tests: InspIRCd's m_sasl hands AUTHENTICATE to Atheme's SaslServ, and
// accounts are registered with NickServ. Started by StartInspIRCd.
type SASLServer struct {
	// Addr is the clients' 127.0.0.1:port (plaintext); Host and Port its
	// parts, Host being what xgate addresses use.
	Addr string
	Host string
	Port int
	// Name is the IRC server's name in its replies.
	Name string
	Dir  string
	// TLSAddr is the clients' TLS listener (127.0.0.1:TLSPort) and CAFile
	// the PEM of the CA that signed its certificate: set by
	// StartInspIRCdTLS only.
	TLSAddr string
	TLSPort int
	CAFile  string

	ircd     *process
	services *process
}

// Server names and link password of the private network.
const (
	// Clients from InspIRCdPassFrom (a loopback address: dial it with a
	// bind address) must send InspIRCdServerPass as PASS; clients from
	// 127.0.0.1 need none, others are refused.
	InspIRCdPassFrom   = "127.0.0.2"
	InspIRCdServerPass = "irc-server-pass"

	inspircdName = "irc.test.local"
	servicesName = "services.test.local"
)

// StartInspIRCd starts InspIRCd (--nofork) and Atheme (-n) with generated
// configurations in a temporary directory: clients on a free 127.0.0.1 port,
// the services link on another, nothing resolved or identified. It returns
// once Atheme has linked and finished its burst, so NickServ and SASL work.
// It skips the test when either binary is missing (fails when RequireEnv is
// set). Both are stopped by Cleanup.
func StartInspIRCd(t T) *SASLServer {
	t.Helper()
	return startInspIRCd(t, nil)
}

// inspircdExtras is what a variant of StartInspIRCd adds to the two
// configurations (appended verbatim), and the listeners to wait for.
type inspircdExtras struct {
	ircdConf, athemeConf string
	waitAddrs            []string
}

// startInspIRCd is StartInspIRCd; extras, when not nil, is called with the
// server (Dir set) before the configurations are written.
func startInspIRCd(t T, extras func(s *SASLServer) inspircdExtras) *SASLServer {
	t.Helper()
	ircdBin := lookBin("inspircd", "/usr/sbin/inspircd")
	svcBin := lookBin("atheme-services", "/usr/bin/atheme-services")
	if ircdBin == "" || svcBin == "" {
		Missing(t, "inspircd and atheme-services (apt-get install inspircd atheme-services)")
		return nil
	}
	dir := t.TempDir()
	port, linkPort := FreePort(t), FreePort(t)
	for linkPort == port {
		linkPort = FreePort(t)
	}
	s := &SASLServer{
		Addr: Addr(port), Host: "127.0.0.1", Port: port, Name: inspircdName, Dir: dir,
		ircd:     newProcess("inspircd", filepath.Join(dir, "inspircd.out")),
		services: newProcess("atheme", filepath.Join(dir, "atheme.out")),
	}
	linkPass := fmt.Sprintf("link%d", time.Now().UnixNano())
	var extra inspircdExtras
	if extras != nil {
		extra = extras(s)
	}
	files := map[string]string{
		"inspircd.conf": inspircdConfig(dir, port, linkPort, linkPass) + extra.ircdConf,
		"atheme.conf":   athemeConfig(linkPort, linkPass) + extra.athemeConf,
	}
	if err := os.MkdirAll(filepath.Join(dir, "atheme-data"), 0o755); err != nil {
		t.Fatalf("harness: inspircd: %v", err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatalf("harness: inspircd: write %s: %v", name, err)
		}
	}
	dumpOnFailure(t, "inspircd", s.ircd.logPath, filepath.Join(dir, "inspircd.log"))
	dumpOnFailure(t, "atheme", s.services.logPath)
	// Cleanups run last-in first-out: services go first, then the ircd.
	t.Cleanup(func() {
		if err := s.ircd.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: inspircd: final stop: %v", err)
		}
	})
	t.Cleanup(func() {
		if err := s.services.stop(syscall.SIGTERM, 5*time.Second); err != nil {
			t.Logf("harness: atheme: final stop: %v", err)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.ircd.start(dir, nil, ircdBin, "--nofork", "--runasroot", "--nopid",
		"--config="+filepath.Join(dir, "inspircd.conf")); err != nil {
		t.Fatalf("%v", err)
	}
	if err := WaitTCP(ctx, s.Addr, s.ircd.exited()); err != nil {
		t.Fatalf("harness: inspircd did not become ready: %v\n%s", err, tailFile(s.ircd.logPath, 4096))
	}
	if err := WaitTCP(ctx, Addr(linkPort), s.ircd.exited()); err != nil {
		t.Fatalf("harness: inspircd's link port did not open: %v", err)
	}
	for _, addr := range extra.waitAddrs {
		if err := WaitTCP(ctx, addr, s.ircd.exited()); err != nil {
			t.Fatalf("harness: inspircd's listener %s did not open: %v\n%s", addr, err, tailFile(s.ircd.logPath, 4096))
		}
	}
	if err := s.services.start(dir, nil, svcBin, "-n",
		"-c", filepath.Join(dir, "atheme.conf"),
		"-D", filepath.Join(dir, "atheme-data"),
		"-l", filepath.Join(dir, "atheme.log"),
		"-p", filepath.Join(dir, "atheme.pid")); err != nil {
		t.Fatalf("%v", err)
	}
	// Atheme logs this once the ircd's burst is over and its own is sent:
	// from then on NickServ answers and SASL is routed to SaslServ.
	if err := Poll(ctx, 20*time.Second, func() (bool, string) {
		if isClosed(s.services.done) {
			return false, "atheme exited"
		}
		b, _ := os.ReadFile(s.services.logPath)
		return strings.Contains(string(b), "finished synching with uplink"), "atheme has not linked yet"
	}); err != nil {
		t.Fatalf("harness: atheme did not link to inspircd: %v\n%s", err, tailFile(s.services.logPath, 4096))
	}
	return s
}

// RegisterAccount registers account (also its nick) with password through
// NickServ from a raw IRC client, which then quits.
func (s *SASLServer) RegisterAccount(t T, account, password string) {
	t.Helper()
	c := DialIRC(t, s.Addr, account)
	defer c.Close()
	c.Send(t, "PRIVMSG NickServ :REGISTER "+password+" "+account+"@example.com")
	c.Expect(t, 10*time.Second, "is now registered")
	c.Send(t, "QUIT :registered")
}

func lookBin(name, fallback string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	return ""
}

func inspircdConfig(dir string, port, linkPort int, linkPass string) string {
	return fmt.Sprintf(`<config format="xml">
<server name="%[1]s" description="xgate test server" network="XgateTest" id="1XG">
<admin name="xgate" nick="xgate" email="xgate@localhost">
<bind address="127.0.0.1" port="%[2]d" type="clients">
<bind address="127.0.0.1" port="%[3]d" type="servers">
%[9]s<module name="spanningtree">
<module name="services_account">
<module name="sasl">
<module name="cap">
<module name="ircv3">
<module name="ircv3_accounttag">
<module name="ircv3_servertime">
<module name="ircv3_echomessage">
<link name="%[5]s" ipaddr="127.0.0.1" port="%[3]d" allowmask="127.0.0.0/8" timeout="30" sendpass="%[6]s" recvpass="%[6]s">
<uline server="%[5]s" silent="yes">
<sasl target="%[5]s" requiressl="no">
`, inspircdName, port, linkPort, dir, servicesName, linkPass, InspIRCdPassFrom, InspIRCdServerPass,
		inspircdConnect("pass", InspIRCdPassFrom, InspIRCdServerPass)+inspircdConnect("main", "127.0.0.1", "")+inspircdCommon(dir))
}

// inspircdConnect is a connect class for clients from allow (with a
// server password when pass is set), with limits no test reaches.
func inspircdConnect(name, allow, pass string) string {
	pw := ""
	if pass != "" {
		pw = ` password="` + pass + `"`
	}
	return `<connect name="` + name + `" allow="` + allow + `"` + pw + ` timeout="60" threshold="1000" pingfreq="120" hardsendq="1048576" softsendq="65536" recvq="65536" localmax="5000" globalmax="5000" useident="no" resolvehostnames="no" limit="5000" maxchans="100">` + "\n"
}

// inspircdCommon is the configuration every test InspIRCd shares: no DNS,
// a log file in dir, quiet options.
func inspircdCommon(dir string) string {
	return `<dns server="127.0.0.1" timeout="1">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default" target="` + dir + `/inspircd.log">
<options prefixquit="Quit: " syntaxhints="no" announcets="yes">
<security hideulines="no" flatlinks="no" userstats="Pu" maxtargets="20">
<performance quietbursts="yes" softlimit="1024" somaxconn="128" netbuffersize="10240" clonesonconnect="no">
`
}

func athemeConfig(linkPort int, linkPass string) string {
	return fmt.Sprintf(`loadmodule "modules/protocol/inspircd";
loadmodule "modules/backend/opensex";
loadmodule "modules/crypto/pbkdf2v2";
loadmodule "modules/nickserv/main";
loadmodule "modules/nickserv/register";
loadmodule "modules/nickserv/identify";
loadmodule "modules/nickserv/info";
loadmodule "modules/saslserv/main";
loadmodule "modules/saslserv/plain";
pbkdf2v2 { };
serverinfo {
	name = "%[1]s";
	desc = "xgate test services";
	numeric = "0XS";
	recontime = 1;
	netname = "XgateTest";
	hidehostsuffix = "users.test";
	adminname = "xgate";
	adminemail = "xgate@localhost";
	registeremail = "noreply@localhost";
	mta = "/bin/true";
	loglevel = { error; info; admin; network; };
	maxlogins = 5;
	maxusers = 50;
	mdlimit = 30;
	emaillimit = 10;
	emailtime = 300;
	auth = none;
	casemapping = rfc1459;
};
uplink "%[2]s" {
	host = "127.0.0.1";
	password = "%[3]s";
	port = %[4]d;
};
nickserv {
	nick = "NickServ";
	user = "NickServ";
	host = "%[1]s";
	real = "Nickname Services";
	maxnicks = 5;
	expire = 0;
};
saslserv {
	nick = "SaslServ";
	user = "SaslServ";
	host = "%[1]s";
	real = "SASL Authentication Agent";
};
general {
	helpchan = "#help";
	helpurl = "http://localhost";
	maxcodes = 5;
	uflags = { hidemail; };
	cflags = { verbose; guard; };
	flood_msgs = 0;
	flood_time = 10;
	ratelimit_uses = 0;
	ratelimit_period = 1;
	kline_time = 7;
	commit_interval = 5;
	default_clone_allowed = 500;
	default_clone_warn = 400;
	uplink_sendq_limit = 1048576;
	language = "en";
};
database { };
`, servicesName, inspircdName, linkPass, linkPort)
}
