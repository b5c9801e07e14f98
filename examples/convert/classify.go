package main

import (
	"strings"
	"unicode"
)

// topicRule files a text that has one of its keywords under its topic.
type topicRule struct {
	topic    string
	keywords []string
}

// topicRules returns the rules of the crude keyword classifier of tweets,
// in order: the first rule with a keyword in the text wins, and a text
// without any is general/other. Keywords match whole words or phrases.
func topicRules() []topicRule {
	return []topicRule{
		{"billing/payment", []string{"refund", "refunded", "charged", "charge", "charges", "billing", "bill", "billed",
			"paypal", "card", "payment", "paid", "pay", "money", "invoice", "receipt"}},
		{"account/subscription", []string{"premium", "subscription", "subscribe", "subscribed", "trial", "student",
			"family", "cancel", "cancelled", "canceled", "upgrade", "downgrade", "plan"}},
		{"account/login", []string{"log in", "login", "logged", "log out", "password", "hacked", "facebook",
			"username", "email", "account", "sign in", "signed"}},
		{"devices/connect", []string{"connect", "spotify connect", "speaker", "speakers", "alexa", "echo", "sonos",
			"chromecast", "ps4", "xbox", "bluetooth", "car", "tv", "watch", "device", "devices"}},
		{"playback/offline", []string{"offline", "download", "downloaded", "downloads", "downloading"}},
		{"playback/music", []string{"shuffle", "playlist", "playlists", "song", "songs", "skip", "skips", "repeat",
			"album", "albums", "artist", "podcast", "podcasts", "queue", "lyrics", "library", "radio", "discover"}},
		{"tech/app", []string{"crash", "crashes", "crashing", "update", "updated", "bug", "error", "not working",
			"doesn't work", "won't", "app", "android", "iphone", "ios", "windows", "mac", "desktop", "glitch"}},
	}
}

// classifier guesses the topic of a tweet from its words.
type classifier struct {
	rules []topicRule
}

func newClassifier() classifier { return classifier{rules: topicRules()} }

// topic returns the topic of text.
func (c classifier) topic(text string) string {
	norm := " " + words(text) + " "
	for _, r := range c.rules {
		for _, k := range r.keywords {
			if strings.Contains(norm, " "+k+" ") {
				return r.topic
			}
		}
	}
	return "general/other"
}

// words lower-cases text and turns everything but letters, digits and
// apostrophes into single spaces; mentions and links are dropped.
func words(text string) string {
	var b strings.Builder
	space := true
	for _, f := range strings.Fields(strings.ToLower(text)) {
		if strings.HasPrefix(f, "@") || strings.HasPrefix(f, "http") {
			continue
		}
		for _, r := range strings.ReplaceAll(f, "’", "'") {
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' {
				b.WriteRune(r)
				space = false
			} else if !space {
				b.WriteByte(' ')
				space = true
			}
		}
		if !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimSpace(b.String())
}
