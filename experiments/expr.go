package experiments

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/faultline-dev/faultline/internal/metric"
)

// node is a parsed arithmetic expression. Its unit is checked when the
// expression is parsed, so that "p99 < 250" (a duration against a bare
// number) is an error at its line and column rather than a silent
// comparison with 250 ns.
type node interface {
	unit() metric.Unit
	String() string
}

type numberNode struct {
	v    float64
	u    metric.Unit
	text string
}

func (n *numberNode) unit() metric.Unit { return n.u }
func (n *numberNode) String() string    { return n.text }

// refNode is a metric reference: [phase.]metric[[request]].
type refNode struct {
	phase   string // "" is the phase being judged
	metric  string
	request string
	u       metric.Unit
	col     int
	// m is the metric named, the zero Metric for the names of an
	// experiment's own (time_to_recover, value).
	m metric.Metric
}

func (n *refNode) unit() metric.Unit { return n.u }
func (n *refNode) String() string {
	s := n.metric
	if n.phase != "" {
		s = n.phase + "." + s
	}
	if n.request != "" {
		s += "[" + n.request + "]"
	}
	return s
}

type binNode struct {
	op   byte
	l, r node
	u    metric.Unit
}

func (n *binNode) unit() metric.Unit { return n.u }
func (n *binNode) String() string {
	return "(" + n.l.String() + " " + string(n.op) + " " + n.r.String() + ")"
}

type negNode struct{ x node }

func (n *negNode) unit() metric.Unit { return n.x.unit() }
func (n *negNode) String() string    { return "-" + n.x.String() }

// Condition is a parsed comparison: "p99 < 2 * baseline.p99 over 5s".
type Condition struct {
	Source string
	Left   node
	Op     string
	Right  node
	Window time.Duration // 0: over the whole phase
	pos    Pos
}

// walk calls fn for every node of both sides of the condition.
func (c *Condition) walk(fn func(node)) {
	var visit func(node)
	visit = func(n node) {
		fn(n)
		switch x := n.(type) {
		case *binNode:
			visit(x.l)
			visit(x.r)
		case *negNode:
			visit(x.x)
		}
	}
	visit(c.Left)
	visit(c.Right)
}

// scaleDurations multiplies every duration constant of the condition by
// scale: a time-scaled run keeps its recovery limit in proportion.
func (c *Condition) scaleDurations(scale float64) {
	c.walk(func(n node) {
		if x, ok := n.(*numberNode); ok && x.u == metric.Duration {
			x.v *= scale
		}
	})
}

// Refs lists the metric references of the condition.
func (c *Condition) Refs() []*refNode {
	var out []*refNode
	c.walk(func(n node) {
		if r, ok := n.(*refNode); ok {
			out = append(out, r)
		}
	})
	return out
}

// Relative reports whether the condition compares with another phase, which
// makes its verdict statistical.
func (c *Condition) Relative() bool {
	for _, r := range c.Refs() {
		if r.phase != "" {
			return true
		}
	}
	return false
}

// scopeMetrics are the names an expression may use beside the metric
// vocabulary: values of the experiment rather than of its intervals.
var scopeMetrics = map[string]metric.Unit{"time_to_recover": metric.Duration, "value": metric.Count}

// lookupRef finds a name an expression may use: a metric of the
// vocabulary, or one of scopeMetrics (with the zero Metric).
func lookupRef(name string) (metric.Metric, metric.Unit, bool) {
	if u, ok := scopeMetrics[name]; ok {
		return metric.Metric{}, u, true
	}
	m, err := metric.Lookup(name)
	return m, m.Unit, err == nil
}

// expressionNames lists the names expressions accept.
const expressionNames = metric.ShortNames + ", time_to_recover, value"

// parseError is a problem at a column of the expression.
type parseError struct {
	col int // 1-based within the expression
	msg string
}

func (e *parseError) Error() string { return e.msg }

// parseCondition parses src. phases are the phase names a reference may
// qualify with.
func parseCondition(src string, phases []string) (*Condition, error) {
	p := &parser{src: src, phases: phases}
	p.lex()
	if p.err != nil {
		return nil, p.err
	}
	c := &Condition{Source: src}
	left, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tokOp || !isComparison(t.text) {
		return nil, p.errAt(t, "want a comparison (<, <=, >, >=, ==, !=) after %s", left)
	}
	p.next()
	right, err := p.additive()
	if err != nil {
		return nil, err
	}
	c.Left, c.Op, c.Right = left, t.text, right
	if !metric.Compatible(left.unit(), right.unit()) {
		return nil, p.errAt(t, "cannot compare %s (%s) with %s (%s)%s", left, left.unit(), right, right.unit(), unitHint(left, right))
	}
	if w := p.peek(); w.kind == tokIdent && w.text == "over" {
		p.next()
		d := p.next()
		if d.kind != tokNumber || d.num.u != metric.Duration || d.num.v <= 0 {
			return nil, p.errAt(d, "want a window duration after over, like 5s")
		}
		c.Window = time.Duration(d.num.v)
	}
	if t := p.peek(); t.kind != tokEOF {
		return nil, p.errAt(t, "unexpected %q", t.text)
	}
	return c, nil
}

func unitHint(a, b node) string {
	if a.unit() == metric.Duration && b.unit() == metric.Count || a.unit() == metric.Count && b.unit() == metric.Duration {
		return ": give the number a unit, like 250ms"
	}
	return ""
}

func isComparison(s string) bool {
	switch s {
	case "<", "<=", ">", ">=", "==", "!=":
		return true
	}
	return false
}

type tokKind int

const (
	tokEOF tokKind = iota
	tokNumber
	tokIdent
	tokOp
	tokRequest // [name]
)

type token struct {
	kind tokKind
	text string
	num  *numberNode
	col  int
}

type parser struct {
	src    string
	phases []string
	toks   []token
	i      int
	err    error
}

func (p *parser) errAt(t token, format string, args ...any) error {
	return &parseError{col: t.col, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

// lex splits the source into tokens. Identifiers may hold dots between
// word parts (baseline.p99) and a decimal part after a percentile (p99.9).
func (p *parser) lex() {
	s := p.src
	i := 0
	for i < len(s) {
		c := rune(s[i])
		col := i + 1
		switch {
		case c == ' ' || c == '\t':
			i++
		case strings.ContainsRune("<>=!", c):
			op := string(c)
			if i+1 < len(s) && s[i+1] == '=' {
				op += "="
			}
			if op == "=" || op == "!" {
				p.err = &parseError{col: col, msg: fmt.Sprintf("unexpected %q: use == or !=", op)}
				return
			}
			p.toks = append(p.toks, token{kind: tokOp, text: op, col: col})
			i += len(op)
		case strings.ContainsRune("+-*/()", c):
			p.toks = append(p.toks, token{kind: tokOp, text: string(c), col: col})
			i++
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				p.err = &parseError{col: col, msg: "unclosed [ in request name"}
				return
			}
			name := strings.TrimSpace(s[i+1 : i+j])
			if name == "" {
				p.err = &parseError{col: col, msg: "empty request name in []"}
				return
			}
			p.toks = append(p.toks, token{kind: tokRequest, text: name, col: col})
			i += j + 1
		case unicode.IsDigit(c) || c == '.':
			j := i
			for j < len(s) && (unicode.IsDigit(rune(s[j])) || s[j] == '.') {
				j++
			}
			k := j
			for k < len(s) && (unicode.IsLetter(rune(s[k])) || s[k] == '%' || s[k] == 'µ' || s[k] == '/') {
				k++
			}
			num, err := parseNumber(s[i:j], s[j:k])
			if err != nil {
				p.err = &parseError{col: col, msg: err.Error()}
				return
			}
			p.toks = append(p.toks, token{kind: tokNumber, text: s[i:k], num: num, col: col})
			i = k
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(s) {
				r := rune(s[j])
				if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' {
					j++
					continue
				}
				// A dot joins word parts, and a percentile's decimals.
				if r == '.' && j+1 < len(s) && (unicode.IsLetter(rune(s[j+1])) || unicode.IsDigit(rune(s[j+1]))) {
					j++
					continue
				}
				break
			}
			p.toks = append(p.toks, token{kind: tokIdent, text: s[i:j], col: col})
			i = j
		default:
			p.err = &parseError{col: col, msg: fmt.Sprintf("unexpected %q", c)}
			return
		}
	}
	p.toks = append(p.toks, token{kind: tokEOF, text: "end of expression", col: len(s) + 1})
}

// parseNumber reads a number and its unit: a duration unit, %, or /s.
func parseNumber(num, unit string) (*numberNode, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("%q is not a number", num)
	}
	text := num + unit
	switch unit {
	case "":
		return &numberNode{v: v, u: metric.Count, text: text}, nil
	case "%":
		return &numberNode{v: v / 100, u: metric.Ratio, text: text}, nil
	case "/s":
		return &numberNode{v: v, u: metric.Rate, text: text}, nil
	case "/m":
		return &numberNode{v: v / 60, u: metric.Rate, text: text}, nil
	}
	d, err := time.ParseDuration(text)
	if err != nil {
		return nil, fmt.Errorf("%q: unknown unit %q (want ns, us, ms, s, m, h, %%, or /s)", text, unit)
	}
	return &numberNode{v: float64(d), u: metric.Duration, text: text}, nil
}

func (p *parser) additive() (node, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || (t.text != "+" && t.text != "-") {
			return l, nil
		}
		p.next()
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		if !metric.Compatible(l.unit(), r.unit()) {
			return nil, p.errAt(t, "cannot add %s (%s) and %s (%s)%s", l, l.unit(), r, r.unit(), unitHint(l, r))
		}
		u := l.unit()
		if u == metric.Count {
			u = r.unit()
		}
		l = &binNode{op: t.text[0], l: l, r: r, u: u}
	}
}

func (p *parser) multiplicative() (node, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tokOp || (t.text != "*" && t.text != "/") {
			return l, nil
		}
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		var u metric.Unit
		switch {
		case r.unit() == metric.Count:
			u = l.unit()
		case t.text == "*" && l.unit() == metric.Count:
			u = r.unit()
		case t.text == "/" && l.unit() == r.unit():
			u = metric.Count
		default:
			return nil, p.errAt(t, "cannot %s %s (%s) by %s (%s)", map[string]string{"*": "multiply", "/": "divide"}[t.text], l, l.unit(), r, r.unit())
		}
		l = &binNode{op: t.text[0], l: l, r: r, u: u}
	}
}

func (p *parser) unary() (node, error) {
	if t := p.peek(); t.kind == tokOp && t.text == "-" {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &negNode{x: x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (node, error) {
	t := p.next()
	switch t.kind {
	case tokNumber:
		return t.num, nil
	case tokOp:
		if t.text == "(" {
			x, err := p.additive()
			if err != nil {
				return nil, err
			}
			if c := p.next(); c.kind != tokOp || c.text != ")" {
				return nil, p.errAt(c, "want ) to close the ( at column %d", t.col)
			}
			return x, nil
		}
	case tokIdent:
		return p.reference(t)
	}
	return nil, p.errAt(t, "want a number or a metric, got %q", t.text)
}

func (p *parser) reference(t token) (node, error) {
	ref := &refNode{metric: t.text, col: t.col}
	if _, _, ok := lookupRef(t.text); !ok {
		// PHASE.metric
		if phase, name, ok := strings.Cut(t.text, "."); ok && contains(p.phases, phase) {
			if _, _, ok := lookupRef(name); ok {
				ref.phase, ref.metric = phase, name
			}
		}
	}
	m, u, ok := lookupRef(ref.metric)
	if !ok {
		if phase, _, has := strings.Cut(t.text, "."); has && !contains(p.phases, phase) {
			return nil, p.errAt(t, "unknown phase %q in %s (phases: %s)", phase, t.text, strings.Join(p.phases, ", "))
		}
		return nil, p.errAt(t, "unknown metric %q (metrics: %s)", ref.metric, expressionNames)
	}
	ref.m = m
	ref.u = u
	if ref.phase != "" && (ref.metric == "time_to_recover" || ref.metric == "value") {
		return nil, p.errAt(t, "%s cannot be taken from another phase", ref.metric)
	}
	if r := p.peek(); r.kind == tokRequest {
		p.next()
		ref.request = r.text
	}
	return ref, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
