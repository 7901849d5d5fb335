package guard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Config is a set of limits, from code, a JSON file or the environment.
//
// The file form:
//
//	{"limits": [
//	  {"name": "process", "max": 500000},
//	  {"name": "http", "max": 8000, "policy": "reject"},
//	  {"name": "orders/Create", "max": 200}
//	]}
//
// The environment form (GUARD_LIMITS), comma-separated name=max[:policy]:
//
//	GUARD_LIMITS='process=500000,http=8000:reject,orders/Create=200'
type Config struct {
	Limits []LimitConfig `json:"limits"`
}

// LimitConfig is one limit.
type LimitConfig struct {
	// Name is the limit's name: Process, a service, or "service/method" (see Guard).
	Name string `json:"name"`
	// Max is how many goroutines the limit admits at once (at least 1).
	Max int `json:"max"`
	// Policy is "wait" (the default) or "reject".
	Policy string `json:"policy,omitempty"`
}

// The environment variables ConfigFromEnv reads.
const (
	// EnvConfig names a JSON config file.
	EnvConfig = "GUARD_CONFIG"
	// EnvLimits holds limits as name=max[:policy],...; they override the file's.
	EnvLimits = "GUARD_LIMITS"
)

// Validate checks names, maxima and policies.
func (c Config) Validate() error {
	seen := map[string]bool{}
	for _, l := range c.Limits {
		switch {
		case l.Name == "" || strings.HasPrefix(l.Name, "/") || strings.HasSuffix(l.Name, "/"):
			return fmt.Errorf("guard: config: bad limit name %q", l.Name)
		case l.Max < 1:
			return fmt.Errorf("guard: config: limit %q: max %d (want at least 1)", l.Name, l.Max)
		case seen[l.Name]:
			return fmt.Errorf("guard: config: limit %q given twice", l.Name)
		}
		if _, err := ParsePolicy(l.Policy); err != nil {
			return fmt.Errorf("guard: config: limit %q: %w", l.Name, err)
		}
		seen[l.Name] = true
	}
	return nil
}

// ParseConfig reads the JSON form. Unknown fields are errors (a typo must not silently drop a
// limit).
func ParseConfig(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("guard: config: %w", err)
	}
	if dec.More() {
		return Config{}, errors.New("guard: config: data after the JSON object")
	}
	return c, c.Validate()
}

// LoadConfig reads the JSON form from a file.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("guard: config: %w", err)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// ParseLimits reads the environment form: name=max[:policy] items separated by commas.
func ParseLimits(s string) (Config, error) {
	var c Config
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, val, ok := strings.Cut(item, "=")
		if !ok {
			return Config{}, fmt.Errorf("guard: limits: %q is not name=max[:policy]", item)
		}
		num, policy, _ := strings.Cut(val, ":")
		max, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil {
			return Config{}, fmt.Errorf("guard: limits: %q: max %q is not an integer", item, num)
		}
		c.Limits = append(c.Limits, LimitConfig{Name: strings.TrimSpace(name), Max: max, Policy: strings.TrimSpace(policy)})
	}
	return c, c.Validate()
}

// Merge returns c with the limits of o added; a limit named in both takes o's values.
func (c Config) Merge(o Config) Config {
	out := Config{}
	idx := map[string]int{}
	for _, l := range append(append([]LimitConfig{}, c.Limits...), o.Limits...) {
		if i, ok := idx[l.Name]; ok {
			out.Limits[i] = l
			continue
		}
		idx[l.Name] = len(out.Limits)
		out.Limits = append(out.Limits, l)
	}
	return out
}

// ConfigFromEnv reads the file named by GUARD_CONFIG (if set), then GUARD_LIMITS (if set), whose
// limits override the file's.
func ConfigFromEnv() (Config, error) {
	var c Config
	if path := os.Getenv(EnvConfig); path != "" {
		f, err := LoadConfig(path)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvConfig, err)
		}
		c = f
	}
	if s := os.Getenv(EnvLimits); s != "" {
		e, err := ParseLimits(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvLimits, err)
		}
		c = c.Merge(e)
	}
	return c, nil
}

// Apply validates c and sets every limit it names (limits it does not name are kept).
func (g *Guard) Apply(c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, lc := range c.Limits {
		pol, _ := ParsePolicy(lc.Policy)
		g.Limit(lc.Name, lc.Max).SetPolicy(pol)
	}
	return nil
}

// Configure applies ConfigFromEnv to Default: call it once from main.
func Configure() error {
	c, err := ConfigFromEnv()
	if err != nil {
		return err
	}
	return Default.Apply(c)
}
