package config

import "time"

// Defaults returns the configuration xgate starts from before the file,
// the environment and flags are applied. No transport is enabled by default,
// and xmpp.domain has no default: both must be configured.
func Defaults() Config {
	return Config{
		XMPP: XMPP{
			Server:           "127.0.0.1:5347",
			Keepalive:        15 * time.Second,
			KeepaliveTimeout: 10 * time.Second,
			ReconnectMax:     30 * time.Second,
			MaxStanzaSize:    256 << 10,
		},
		Store: Store{
			Driver: "sqlite",
			DSN:    "xgate.db",
		},
		HTTP: HTTP{
			Listen: "127.0.0.1:8480",
		},
		Log: Log{
			Level:  "info",
			Format: "text",
		},
		Delivery: Delivery{
			GiveUpAfter: 24 * time.Hour,
			RetryMin:    time.Second,
			RetryMax:    10 * time.Minute,
			Workers:     8,

			Lease:         30 * time.Second,
			HandleTimeout: 2 * time.Minute,
		},
	}
}

// sectionDefaulter is implemented by optional sections (pointer fields) that
// have defaults of their own. When a section appears in any source, the loader
// allocates it, calls setDefaults, then applies the configured keys on top.
type sectionDefaulter interface {
	setDefaults()
}

func (w *Webhook) setDefaults() {
	w.Timeout = 10 * time.Second
}
