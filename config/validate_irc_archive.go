package config

import "time"

// maxIRCHistory bounds transports.irc.archive.history.
const maxIRCHistory = 1000

// setDefaults fills transports.irc before the configured keys apply: the
// archive is on, keeps 90 days and replays 20 lines on join.
func (i *IRC) setDefaults() {
	i.Archive = IRCArchive{Enabled: true, Retention: 90 * 24 * time.Hour, History: 20}
}

// validateIRCArchive checks transports.irc.archive.
func (c *Config) validateIRCArchive(ps *problems) {
	irc := c.Transports.IRC
	if irc == nil {
		return
	}
	if r := irc.Archive.Retention; r < 0 {
		ps.add("transports.irc.archive.retention", "%s is negative (expected a duration such as 2160h, or 0 to keep lines forever)", r)
	} else if r > 0 && r < time.Hour {
		ps.add("transports.irc.archive.retention", "%s is shorter than an hour (expected a duration such as 2160h, or 0 to keep lines forever)", r)
	}
	if h := irc.Archive.History; h < 0 || h > maxIRCHistory {
		ps.add("transports.irc.archive.history", "%d is out of range (expected 0 to %d lines replayed on join)", h, maxIRCHistory)
	}
}
