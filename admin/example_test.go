package admin_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/remoting-go/remoting/admin"
	"github.com/remoting-go/remoting/config"
	"github.com/remoting-go/remoting/invoker"
)

// A service configured with package config fills the admin endpoint's
// Options from the configuration itself: admin knows nothing of config,
// and config nothing of admin.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "service.yaml")
	os.WriteFile(file, []byte("admin: {enabled: true}\n"), 0o600)
	c, err := config.Load(config.Source{File: file, EnvPrefix: "-"})
	if err != nil {
		fmt.Println(err)
		return
	}

	srv := invoker.NewServer(invoker.Options{})
	defer srv.Close()
	if !c.Admin.Enabled {
		return
	}
	adm, err := admin.Start(admin.Options{
		Addr:         c.Admin.Addr, // empty: admin.DefaultAddr
		Token:        c.Admin.Token,
		PublicHealth: c.Admin.PublicHealth, // probes without the token
		Server:       srv,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer adm.Close()

	resp, err := http.Get(adm.URL() + "/healthz")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(resp.StatusCode, " ", string(body))
	// Output: 200 {
	//   "status": "ready"
	// }
}
