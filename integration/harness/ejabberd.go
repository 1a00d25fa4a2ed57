package harness

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// EjabberdOptions configure StartEjabberd.
type EjabberdOptions struct {
	ServerOptions
	// Balancing adds a domain_balancing entry per component domain. Leave it
	// empty when one xgate connection serves each domain: with it, ejabberd
	// needs exactly ComponentNumber connections and silently drops what it
	// hashes to a missing one.
	Balancing []Balancing
}

// StartEjabberd starts ejabberd 23.01 as a child of the test by running erl
// directly (never ejabberdctl: as root it runs su ejabberd and cannot be
// stopped by signal), on free 127.0.0.1 ports, without epmd (the node listens
// for distribution only on a free 127.0.0.1 port), with its own node name,
// cookie, Mnesia spool and logs in a temporary directory. It skips the test
// when ejabberd is not installed (fails when RequireEnv is set).
//
// Restarts (Start after Stop or Kill) reuse the node name, so the spool (and
// its users) survives: Mnesia binds a spool to the node name.
func StartEjabberd(t T, opts EjabberdOptions) *XMPPServer {
	t.Helper()
	erl, err := exec.LookPath("erl")
	libs := ejabberdLibs()
	if err != nil || libs == "" {
		Missing(t, "ejabberd (apt-get install ejabberd)")
		return nil
	}
	opts.setDefaults()
	dir := serverDir(t, "ejabberd")
	for _, sub := range []string{"etc", "db", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatalf("harness: ejabberd: %v", err)
		}
	}
	s := &XMPPServer{
		Kind:          Ejabberd,
		Domain:        opts.Domain,
		ExtraHosts:    opts.ExtraHosts,
		C2SAddr:       Addr(FreePort(t)),
		ComponentAddr: Addr(FreePort(t)),
		Components:    opts.Components,
		Dir:           dir,
		ConfigPath:    filepath.Join(dir, "etc", "ejabberd.yml"),
		proc:          newProcess("ejabberd", filepath.Join(dir, "log", "erl.log")),
	}
	s.logPaths = []string{s.proc.logPath, filepath.Join(dir, "log", "ejabberd.log")}
	if err := os.WriteFile(s.ConfigPath, []byte(ejabberdConfig(s, opts)), 0o644); err != nil {
		t.Fatalf("harness: ejabberd: write config: %v", err)
	}
	inetrc := filepath.Join(dir, "etc", "inetrc")
	if data, err := os.ReadFile("/etc/ejabberd/inetrc"); err == nil {
		err = os.WriteFile(inetrc, data, 0o644)
		if err != nil {
			t.Fatalf("harness: ejabberd: %v", err)
		}
	} else if err := os.WriteFile(inetrc, []byte("{lookup,[file,native]}.\n{host,{127,0,0,1}, [\"localhost\",\"hostalias\"]}.\n{file, resolv, \"/etc/resolv.conf\"}.\n"), 0o644); err != nil {
		t.Fatalf("harness: ejabberd: %v", err)
	}

	node := "xgate" + randomHex(4) + "@localhost"
	cookie := randomHex(16)
	distPort := portOf(Addr(FreePort(t)))
	s.env = []string{
		"HOME=" + dir,
		"ERL_LIBS=" + libs,
		"EJABBERD_CONFIG_PATH=" + s.ConfigPath,
		"EJABBERD_LOG_PATH=" + filepath.Join(dir, "log", "ejabberd.log"),
		"ERL_CRASH_DUMP=" + filepath.Join(dir, "log", "erl_crash.dump"),
		"ERL_INETRC=" + inetrc,
	}
	s.argv = []string{erl, "-sname", node, "-setcookie", cookie,
		"-erl_epmd_port", distPort, "-start_epmd", "false",
		"-kernel", "inet_dist_use_interface", "{127,0,0,1}",
		"-noinput", "-mnesia", "dir", `"` + filepath.Join(dir, "db") + `"`,
		"-s", "ejabberd"}
	s.register = func(accounts []account) ([]byte, error) {
		return ejabberdRegister(erl, libs, dir, node, cookie, distPort, accounts)
	}
	s.launch(t)
	return s
}

// ejabberdAdminArgs are the erl arguments of a hidden admin node that reaches
// the server node like ejabberdctl does, without su and without epmd. Each
// such VM takes 0.3–0.5 s to boot on an idle machine.
func ejabberdAdminArgs(cookie, distPort string) []string {
	return []string{"-sname", "ctl" + randomHex(4) + "@localhost", "-setcookie", cookie,
		"-hidden", "-noinput", "-erl_epmd_port", distPort, "-start_epmd", "false",
		"-dist_listen", "false"}
}

// ejabberdRegister registers accounts with one admin VM: an rpc call to
// ejabberd_auth:try_register/3 per account (what `ejabberdctl register` does).
// It fails unless every call returned ok.
func ejabberdRegister(erl, libs, dir, node, cookie, distPort string, accounts []account) ([]byte, error) {
	var calls []string
	for _, a := range accounts {
		calls = append(calls, fmt.Sprintf("rpc:call('%s', ejabberd_auth, try_register, [%s, %s, %s])",
			node, erlBinary(a.local), erlBinary(a.host), erlBinary(a.pass)))
	}
	eval := fmt.Sprintf("R = [%s], io:format(\"~p~n\", [R]), "+
		"halt(case lists:all(fun(X) -> X =:= ok end, R) of true -> 0; false -> 1 end).", strings.Join(calls, ", "))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, erl, append(ejabberdAdminArgs(cookie, distPort), "-eval", eval)...)
	cmd.Env = append(baseEnv(), "HOME="+dir, "ERL_LIBS="+libs)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

// erlBinary returns s as an Erlang UTF-8 binary literal.
func erlBinary(s string) string {
	var b strings.Builder
	b.WriteString(`<<"`)
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, "\\x{%x}", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString(`"/utf8>>`)
	return b.String()
}

// ejabberdLibs finds the directory holding ejabberd-<version> (Debian:
// /usr/lib/x86_64-linux-gnu), the ERL_LIBS erl needs to load ejabberd.
func ejabberdLibs() string {
	if v := os.Getenv("XGATE_EJABBERD_LIBS"); v != "" {
		return v
	}
	for _, pattern := range []string{"/usr/lib/*/ejabberd-*", "/usr/lib/ejabberd-*", "/usr/local/lib/ejabberd-*"} {
		matches, _ := filepath.Glob(pattern)
		for _, m := range matches {
			if st, err := os.Stat(filepath.Join(m, "ebin")); err == nil && st.IsDir() {
				return filepath.Dir(m)
			}
		}
	}
	return ""
}

func ejabberdConfig(s *XMPPServer, opts EjabberdOptions) string {
	level := "info"
	if opts.Debug {
		level = "debug"
	}
	hosts := []string{}
	for _, h := range append([]string{s.Domain}, s.ExtraHosts...) {
		hosts = append(hosts, yamlQuote(h))
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# generated by xgate's integration harness
hosts: [%s]
loglevel: %s
log_rotate_count: 0
auth_method: internal
auth_password_format: scram
`, strings.Join(hosts, ", "), level)
	b.WriteString(EjabberdBalancingSnippet(opts.Balancing))
	fmt.Fprintf(&b, `listen:
  -
    port: %s
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls_required: false
    access: c2s
`, portOf(s.C2SAddr))
	if len(s.Components) > 0 {
		b.WriteString(EjabberdServiceSnippet(atoi(portOf(s.ComponentAddr)), s.Components))
	}
	b.WriteString(`acl:
  local: {user_regexp: ""}
access_rules:
  local: {allow: local}
  c2s: {allow: all}
api_permissions:
  "console commands": {from: [ejabberd_ctl], who: all, what: "*"}
modules:
  mod_caps: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_offline: {}
  mod_ping: {}
  mod_roster: {}
  mod_stream_mgmt: {}
  mod_vcard: {}
`)
	return b.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
