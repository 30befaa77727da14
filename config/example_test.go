package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/remoting-go/remoting/config"
)

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "service.yaml")
	os.WriteFile(file, []byte(`
listen: tcp://127.0.0.1:7000
types:
  render: {pool: {min: 1, max: 8}}
interceptors:
  server: [logging, metrics]
`), 0o600)

	c, err := config.Load(config.Source{File: file, EnvPrefix: "-"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Listen, c.Types["render"].Pool.Max, c.Interceptors.Server, c.Admin.Enabled)
	// Output: tcp://127.0.0.1:7000 8 [logging metrics] false
}

func ExampleConfig_Validate() {
	c := &config.Config{
		Listen: "tcp://127.0.0.1:7000",
		Types:  map[string]config.TypePolicy{"render": {Pool: config.PoolPolicy{Min: 5, Max: 2}}},
		Admin:  config.Admin{Enabled: true, Addr: "0.0.0.0:9000"},
	}
	fmt.Println(c.Validate())
	// Output:
	// admin: addr "0.0.0.0:9000" is not a loopback address: set admin.token
	// types.render.pool: min 5 is above max 2
}
