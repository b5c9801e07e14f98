package simulate

import (
	"strconv"
	"strings"
	"time"
)

// channelModel is how contacts on one channel behave. Times in seconds.
type channelModel struct {
	queue    bool    // a live queue: waits and abandonment
	bot      bool    // a bot takes the contact and may hand it to a human
	wait     float64 // median queue wait at an average hour
	waitSig  float64 // spread of log wait: the long tail
	patience float64 // mean time before a waiting customer gives up
	pickup   float64 // median time until an agent picks up a queueless contact
	handle   float64 // median handle time
	resolve  float64 // chance of resolving on the contact (bot: containment)
	fail     float64 // factor on the topic's repeat propensity
}

func channelBehaviour(name string) channelModel {
	switch name {
	case "phone":
		return channelModel{queue: true, wait: 25, waitSig: 1.2, patience: 300, handle: 330, resolve: 0.78, fail: 1.0}
	case "chat":
		return channelModel{queue: true, wait: 15, waitSig: 1.1, patience: 180, handle: 480, resolve: 0.72, fail: 1.1}
	case "web":
		return channelModel{pickup: 2 * 3600, handle: 300, resolve: 0.60, fail: 1.35}
	case "social":
		return channelModel{pickup: 2400, handle: 240, resolve: 0.55, fail: 1.3}
	case "bot":
		return channelModel{bot: true, handle: 150, resolve: 0.55, fail: 1.6}
	}
	return channelModel{pickup: 3 * 3600, handle: 300, resolve: 0.62, fail: 1.3} // email and custom channels
}

// model is the Config turned into the tables the planner draws from. Its
// slices are shared by the events that it plans: consumers must not
// modify the Skills and Keys of generated events.
type model struct {
	chNames    []string
	channels   []channelModel
	channelCum []float64
	phone      int // index of phone in the mix, -1 if it is not there
	chat       channelModel

	topics   []Topic
	topicCum []float64
	queue    []string // the queue of each topic: its top level
	tier2    []string // where transfers of each topic go
	group    []int    // agent group of each topic
	skills   [][][]string

	agents  []string
	experts []string
	window  int64 // ms
	// autoClose is Config.AutoClose in ms, negative for never.
	autoClose int64

	hourWeight [7 * 24]float64 // load by hour of the week, mean 1
}

func newModel(c Config) *model {
	m := &model{phone: -1, chat: channelBehaviour("chat"), window: c.Window.Milliseconds(), autoClose: c.AutoClose.Milliseconds()}
	sum := 0.0
	for i, ch := range c.Channels {
		m.chNames = append(m.chNames, ch.Name)
		m.channels = append(m.channels, channelBehaviour(ch.Name))
		sum += ch.Weight
		m.channelCum = append(m.channelCum, sum)
		if ch.Name == "phone" && m.phone < 0 {
			m.phone = i
		}
	}
	sum = 0
	groups := map[string]int{}
	for _, t := range c.Topics {
		m.topics = append(m.topics, t)
		sum += t.Weight
		m.topicCum = append(m.topicCum, sum)
		top, _, _ := strings.Cut(t.Name, "/")
		m.queue = append(m.queue, top)
		m.tier2 = append(m.tier2, top+"-tier2")
		g, ok := groups[top]
		if !ok {
			g = len(groups)
			groups[top] = g
		}
		m.group = append(m.group, g)
		sk := make([][]string, len(m.chNames))
		for j, ch := range m.chNames {
			sk[j] = []string{top, ch}
		}
		m.skills = append(m.skills, sk)
	}
	for i := range c.Agents {
		m.agents = append(m.agents, "agent-"+strconv.Itoa(i+1))
	}
	m.experts = []string{"expert-1", "expert-2", "expert-3", "expert-4", "supervisor-1", "supervisor-2"}
	p := weeklyProfile(1)
	for i, v := range p {
		m.hourWeight[i] = v * float64(msPerDay)
	}
	return m
}

// agent returns an agent for topic: agents specialise, so each topic
// group draws from its own overlapping third of the pool.
func (m *model) agent(g *rng, topic int) string {
	n := len(m.agents)
	span := max(1, n/3)
	return m.agents[(m.group[topic]*span/2+g.intn(span))%n]
}

// switchChannel returns the channel of a customer's next contact after
// one on ch: mostly the same, often the phone, sometimes anything.
func (m *model) switchChannel(g *rng, ch int) int {
	switch u := g.float(); {
	case u < 0.45:
		return ch
	case u < 0.75 && m.phone >= 0:
		return m.phone
	default:
		return g.pick(m.channelCum)
	}
}

// ms converts seconds to whole milliseconds, at least 1 so that a later
// step is never before an earlier one.
func ms(seconds float64) int64 {
	return max(1, int64(seconds*1000))
}

// dur converts seconds to a whole-millisecond Duration.
func dur(seconds float64) time.Duration {
	return time.Duration(int64(seconds*1000)) * time.Millisecond
}
