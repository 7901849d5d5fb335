package guard

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"limits": [
		{"name": "process", "max": 500000},
		{"name": "http", "max": 8000, "policy": "reject"},
		{"name": "orders/Create", "max": 200}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Limits: []LimitConfig{
		{Name: "process", Max: 500000},
		{Name: "http", Max: 8000, Policy: "reject"},
		{Name: "orders/Create", Max: 200},
	}}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v", c)
	}
	for in, why := range map[string]string{
		`{"limits": [{"name": "a", "maks": 3}]}`:                         "unknown field",
		`{"limits": [{"name": "a", "max": 0}]}`:                          "max 0",
		`{"limits": [{"name": "", "max": 1}]}`:                           "bad limit name",
		`{"limits": [{"name": "a/", "max": 1}]}`:                         "bad limit name",
		`{"limits": [{"name": "a", "max": 1, "policy": "drop"}]}`:        "unknown policy",
		`{"limits": [{"name": "a", "max": 1}, {"name": "a", "max": 2}]}`: "given twice",
		`{"limits": []} {}`:                                              "after the JSON",
		`[`:                                                              "unexpected EOF",
	} {
		if _, err := ParseConfig([]byte(in)); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseConfig(%s): %v, want an error saying %q", in, err, why)
		}
	}
}

func TestParseLimits(t *testing.T) {
	c, err := ParseLimits(" process=500000, http=8000:reject ,orders/Create=200,")
	if err != nil {
		t.Fatal(err)
	}
	want := []LimitConfig{{"process", 500000, ""}, {"http", 8000, "reject"}, {"orders/Create", 200, ""}}
	if !reflect.DeepEqual(c.Limits, want) {
		t.Errorf("got %+v", c.Limits)
	}
	for _, bad := range []string{"http", "http=x", "http=0", "http=3:maybe"} {
		if _, err := ParseLimits(bad); err == nil {
			t.Errorf("ParseLimits(%q) did not fail", bad)
		}
	}
}

func TestConfigFromTheEnvironmentOverridesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guard.json")
	if err := os.WriteFile(path, []byte(`{"limits":[{"name":"process","max":10},{"name":"http","max":5}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvConfig, path)
	t.Setenv(EnvLimits, "http=7:reject,orders=2")
	c, err := ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	want := []LimitConfig{{"process", 10, ""}, {"http", 7, "reject"}, {"orders", 2, ""}}
	if !reflect.DeepEqual(c.Limits, want) {
		t.Errorf("got %+v", c.Limits)
	}
	g := New()
	if err := g.Apply(c); err != nil {
		t.Fatal(err)
	}
	if l := g.Limiter("http"); l.Max() != 7 || l.Policy() != Reject {
		t.Errorf("http: max %d policy %v", l.Max(), l.Policy())
	}
	if g.Limiter("process").Max() != 10 || g.Limiter("orders").Max() != 2 {
		t.Error("process or orders not applied")
	}

	t.Setenv(EnvLimits, "broken")
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), EnvLimits) {
		t.Errorf("a bad %s: %v", EnvLimits, err)
	}
	t.Setenv(EnvConfig, filepath.Join(t.TempDir(), "missing.json"))
	if _, err := ConfigFromEnv(); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("a missing file: %v", err)
	}
	if err := g.Apply(Config{Limits: []LimitConfig{{Name: "x", Max: -1}}}); err == nil {
		t.Error("Apply of an invalid config did not fail")
	}
}

func TestConfigureSetsDefaultFromTheEnvironment(t *testing.T) {
	t.Setenv(EnvConfig, "")
	t.Setenv(EnvLimits, "configure-test=3:reject")
	defer Limit("configure-test", 0)
	if err := Configure(); err != nil {
		t.Fatal(err)
	}
	if l := Default.Limiter("configure-test"); l == nil || l.Max() != 3 || l.Policy() != Reject {
		t.Fatalf("Default after Configure: %+v", Default.Stats())
	}
}
