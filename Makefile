# xgate — a newcomer needs two commands on a fresh Debian machine:
#   make demo   run the gateway against a local Prosody (installs what it needs)
#   make test   run every test, unit and integration (installs what it needs)

GO       ?= go
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests and the demo start for real on 127.0.0.1.
TEST_PKGS := prosody ejabberd postgresql ngircd lua-event postfix dovecot-imapd dovecot-lmtpd inspircd atheme-services
DEMO_PKGS := prosody lua-event ngircd postfix dovecot-imapd dovecot-lmtpd
UNIT      := ./cmd/... ./component/... ./config/... ./mapping/... ./store/... ./transports/...

.PHONY: all build test unit integration demo deps deps-test deps-demo preseed vet bench fuzz clean

all: build

build:
	$(GO) build -o bin/xgate ./cmd/xgate

# deps-% installs the listed Debian packages that are missing, quietly, and
# fetches Go modules through the module proxy.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get -o DPkg::Lock::Timeout=600 install -y -qq $$missing >/dev/null; \
	fi
	@$(GO) mod download
endef

# postfix asks debconf for a mailer type: preseed "No configuration" (no main.cf,
# no daemon) so that the install never prompts; the tests and the demo run
# private instances.
preseed:
	@printf '%s\n' 'postfix postfix/main_mailer_type select No configuration' \
		'postfix postfix/mailname string localhost' | $(SUDO) debconf-set-selections

deps-test: preseed
	$(call apt_install,$(TEST_PKGS))

deps-demo: preseed
	$(call apt_install,$(DEMO_PKGS))

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 $(UNIT)

# XGATE_REQUIRE_SERVERS=1 turns "server binary missing" from a skip into a failure:
# the Prosody, ejabberd and PostgreSQL tests must run, never silently skip.
integration:
	XGATE_REQUIRE_SERVERS=1 $(GO) test -count=1 -timeout 12m ./integration/...

test: deps-test vet
	XGATE_REQUIRE_SERVERS=1 $(GO) test -race -count=1 $(UNIT)
	XGATE_REQUIRE_SERVERS=1 $(GO) test -count=1 -timeout 12m ./integration/...

demo: deps-demo
	$(GO) run ./cmd/xgate-demo

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./component/... ./store/... ./transports/...

clean:
	rm -rf bin
