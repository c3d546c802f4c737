package provider_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/vmware/govmomi/object"

	"github.com/instantclone/terraform-provider-instantclone/internal/acctest"
	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
)

// badCase is one bad value: the configuration and the diagnostic it must give.
type badCase struct {
	name   string
	config string
	want   string // regexp the diagnostic must match, naming the attribute or the object
}

// customizationWith is a customization block with a host name pattern ("" leaves the
// default) and one network_interface block per entry, each the block's attributes on one
// line.
func customizationWith(hostname string, interfaces ...string) string {
	out := "customization {\n guest_username = \"root\"\n guest_password = \"pw\"\n"
	if hostname != "" {
		out += fmt.Sprintf(" hostname = %q\n", hostname)
	}
	for _, attrs := range interfaces {
		out += " network_interface {\n" + strings.ReplaceAll(strings.ReplaceAll(attrs, " ipv4_", "\n ipv4_"), "\n\n", "\n") + "\n }\n"
	}
	return out + "}"
}

// TestAccBadInput gives every attribute of every resource, and of the provider block, bad
// values. Each gives a diagnostic on the right attribute, and vCenter's inventory is unchanged.
func TestAccBadInput(t *testing.T) {
	acctest.PreCheck(t)
	env := acctest.NewEnv(t, vcsim.Options{Clusters: 2})
	ctx := context.Background()
	noSnap, err := env.Client.CloneVM(ctx, engine.CloneSpec{Source: env.Inv.Golden.Ref.Value, Folder: env.Inv.VMFolder.Ref.Value, Name: "no-snapshots"})
	if err != nil {
		t.Fatal(err)
	}
	hidden := hiddenDatastore(t, env)

	host, user, pass := env.Server.URL().Host, env.Server.Username(), env.Server.Password()
	prov := func(attrs string) string {
		return fmt.Sprintf("provider \"instantclone\" {\n%s\n}\n", attrs) + imageHCL("img", "bad")
	}
	good := fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = %q\nallow_unverified_ssl = true\n", host, user, pass)
	image := func(name, source, snapshot string) string {
		snap := ""
		if snapshot != "" {
			snap = fmt.Sprintf("snapshot = %q", snapshot)
		}
		return env.ProviderBlock() + fmt.Sprintf("resource \"instantclone_image\" \"bad\" {\n name = %q\n source_vm = %q\n %s\n}\n", name, source, snap)
	}
	imageWith := func(hcl string) string {
		return env.ProviderBlock() + fmt.Sprintf("resource \"instantclone_image\" \"bad\" {\n name = \"i\"\n source_vm = %q\n %s\n}\n", vcsim.GoldenVMPath, hcl)
	}
	base := poolArgs{label: "bad", name: "bad", datastores: []string{env.Datastore(0)}, size: 2}
	pool := func(f func(*poolArgs)) string {
		p := base
		f(&p)
		return poolConfig(env, p)
	}
	poolReplace := func(from, to string) string { return strings.Replace(pool(func(*poolArgs) {}), from, to, 1) }
	attach := func(poolID, ds, extra string) string {
		return env.ProviderBlock() + fmt.Sprintf("resource \"instantclone_pool_datastore\" \"bad\" {\n pool_id = %q\n datastore_id = %q\n %s\n}\n", poolID, ds, extra)
	}
	long := strings.Repeat("x", 81)
	cases := []badCase{
		{"provider: no server", prov(""), `Missing vCenter server.*VSPHERE_SERVER`},
		{"provider: server not a URL", prov(`vsphere_server = "https://"` + "\nuser = \"u\"\npassword = \"p\""), `Invalid vCenter server.*has no host`},
		{"provider: credentials in the URL", prov(`vsphere_server = "https://u:p@vc.example.com"` + "\nuser = \"u\"\npassword = \"p\""), `Invalid vCenter server.*must not carry credentials`},
		{"provider: no user", prov(fmt.Sprintf("vsphere_server = %q\npassword = %q", host, pass)), `Missing vCenter user.*VSPHERE_USER`},
		{"provider: wrong password", prov(fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = \"nope\"\nallow_unverified_ssl = true", host, user)), `rejected the user name or\s+password`},
		{"provider: concurrency 0", prov(good + "max_concurrent_operations = 0"), `max_concurrent_operations.*between 1 and 1000`},
		{"provider: TLS flag not a bool", prov(fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = %q\nallow_unverified_ssl = \"maybe\"", host, user, pass)), `allow_unverified_ssl`},
		{"provider: unknown datacenter", prov(good + `datacenter = "DC9"`), `finding datacenter "DC9"`},
		{"provider: missing CA file", prov(fmt.Sprintf("vsphere_server = %q\nuser = %q\npassword = %q\nca_file = \"/nonexistent/ca.pem\"", host, user, pass)), `reading CA file /nonexistent/ca.pem`},

		{"image: empty name", image("", vcsim.GoldenVMPath, ""), `name.*length must be between 1 and 80`},
		{"image: name too long", image(long, vcsim.GoldenVMPath, ""), `name.*length must be between 1 and 80`},
		{"image: empty source_vm", image("i", "", ""), `source_vm.*length`},
		{"image: unknown source path", image("i", "/DC0/vm/no-such-vm", ""), `Source VM not found.*source_vm`},
		{"image: unknown source ID", image("i", "vm-99999", ""), `Source VM not found`},
		{"image: ID of another type", image("i", env.Datastore(0), ""), `Source VM not found`},
		{"image: BIOS UUID of no VM", image("i", "4217aaaa-bbbb-cccc-dddd-eeeeeeeeeeee", ""), `Source VM not found.*source_vm.*4217aaaa-bbbb-cccc-dddd-eeeeeeeeeeee.*BIOS UUID`},
		{"image: source without snapshots", image("i", noSnap, ""), `Source VM has no snapshots`},
		{"image: unknown snapshot", image("i", vcsim.GoldenVMPath, "no-such-snapshot"), `Snapshot not found.*base, patched`},
		{"image: unknown parent_ready", imageWith(`parent_ready = "warm"`), `parent_ready.*value must be one of.*powered_on.*frozen`},
		{"image: parent_ready_timeout not a duration", imageWith(`parent_ready_timeout = "forever"`), `Invalid duration.*forever`},
		{"image: no CPUs", imageWith("num_cpus = 0"), `num_cpus.*between 1 and 768`},
		{"image: more CPUs than vSphere allows", imageWith("num_cpus = 769"), `num_cpus.*between 1 and 768`},
		{"image: CPUs not a multiple of the cores", imageWith("num_cpus = 4\n cores_per_socket = 3"), `CPUs not a multiple of the cores per socket.*num_cpus \(4\).*cores_per_socket \(3\)`},
		{"image: cores without CPUs", imageWith("cores_per_socket = 2"), `num_cpus.*must be specified`},
		{"image: memory not a multiple of 4", imageWith("memory_mb = 4098"), `Memory not a multiple of 4 MB.*4098`},
		{"image: too little memory", imageWith("memory_mb = 2"), `memory_mb.*between 4 and`},

		{"pool: empty name", pool(func(p *poolArgs) { p.name = ""; p.pattern = "d-{n}" }), `Invalid vCenter name`},
		{"pool: name too long", pool(func(p *poolArgs) { p.name = long; p.pattern = "d-{n}" }), `Invalid vCenter name`},
		{"pool: name too long once escaped", pool(func(p *poolArgs) { p.name = strings.Repeat("a/", 30); p.pattern = "d-{n}" }), `stored as\s+"a%2fa%2f`},
		{"pool: negative size", pool(func(p *poolArgs) { p.size = -1 }), `size.*between 0 and 100000`},
		{"pool: huge size", pool(func(p *poolArgs) { p.size = 100001 }), `size.*between 0 and 100000`},
		{"pool: pattern without {n}", pool(func(p *poolArgs) { p.pattern = "bad-desk" }), `Invalid naming pattern.*no \{n\} token`},
		{"pool: pattern too narrow", pool(func(p *poolArgs) { p.pattern = "bad-{n:fixed=1}"; p.size = 12 }), `Naming pattern too narrow.*at most 9 clones`},
		{"pool: pattern with bad characters", pool(func(p *poolArgs) { p.pattern = "bad_{n}" }), `Invalid naming pattern.*letters, digits and\s+hyphens`},
		{"pool: pattern with bad width", pool(func(p *poolArgs) { p.pattern = "bad-{n:fixed=0}" }), `Invalid naming pattern.*fixed width`},
		{"pool: unknown image", poolReplace("instantclone_image.img.id", `"img-0000000000"`), `Image not published.*img-0000000000`},
		{"pool: empty image", poolReplace("instantclone_image.img.id", `""`), `image_id.*length`},
		{"pool: unknown resource pool", poolReplace(env.ResourcePool(), "resgroup-999"), `Resource pool not found.*resgroup-999`},
		{"pool: resource pool ID of another type", poolReplace(env.ResourcePool(), env.Datastore(0)), `Resource pool not found`},
		{"pool: unknown datastore", pool(func(p *poolArgs) { p.datastores = []string{"datastore-999"} }), `Datastore not found.*datastore-999`},
		{"pool: datastore ID of another type", pool(func(p *poolArgs) { p.datastores = []string{env.ResourcePool()} }), `Datastore not found`},
		{"pool: datastore not visible from the hosts", pool(func(p *poolArgs) { p.datastores = []string{hidden} }), `Datastore not visible from the pool's\s+hosts`},
		{"pool: no datastores", pool(func(p *poolArgs) { p.datastores = nil }), `No datastores`},
		{"pool: unknown rebalance", pool(func(p *poolArgs) { p.rebalance = "sometimes" }), `rebalance.*value must be one of`},
		{"pool: unknown folder", pool(func(p *poolArgs) { p.extra = `folder = "/DC0/vm/no-such-folder"` }), `Folder not found.*no-such-folder`},
		{"pool: batch size 0", pool(func(p *poolArgs) { p.extra = "push_image {\n batch_size = 0\n}" }), `batch_size.*at least 1`},
		{"pool: unknown network", pool(func(p *poolArgs) { p.extra = `network_ids = ["dvportgroup-99999"]` }), `Network not found.*network_ids\[0\].*dvportgroup-99999`},
		{"pool: more networks than NICs", pool(func(p *poolArgs) {
			p.extra = fmt.Sprintf("network_ids = [%q, %q]", env.Inv.Network.Ref.Value, env.Inv.Network.Ref.Value)
		}), `More networks than network cards.*2 networks.*1\s+network card`},
		{"pool: empty network ID", pool(func(p *poolArgs) { p.extra = `network_ids = [""]` }), `network_ids.*at least 1`},
		{"pool: customization range too small", pool(func(p *poolArgs) {
			p.extra = customizationWith("", `ipv4_range = "10.0.9.10-10.0.9.10" ipv4_prefix_length = 24`)
		}),
			`customization.network_interface\[0\].ipv4_range.*holds\s+1\s+address\(es\),\s+fewer\s+than\s+the\s+pool's\s+2\s+clones`},
		{"pool: customization range not a range", pool(func(p *poolArgs) {
			p.extra = customizationWith("", `ipv4_range = "10.0.9.0/24" ipv4_prefix_length = 24`)
		}),
			`customization.network_interface\[0\].ipv4_range.*not\s+a\s+range`},
		{"pool: customization range without prefix", pool(func(p *poolArgs) { p.extra = customizationWith("", `ipv4_range = "10.0.9.10-10.0.9.20"`) }),
			`customization.network_interface\[0\].ipv4_prefix_length.*needs\s+a\s+prefix\s+length`},
		{"pool: customization gateway outside", pool(func(p *poolArgs) {
			p.extra = customizationWith("", `ipv4_range = "10.0.9.10-10.0.9.20" ipv4_prefix_length = 24 ipv4_gateway = "10.0.8.1"`)
		}), `customization.network_interface\[0\].ipv4_gateway.*outside\s+the\s+network\s+10.0.9.0/24`},
		{"pool: customization range wider than its network", pool(func(p *poolArgs) {
			p.extra = customizationWith("", `ipv4_range = "10.0.9.10-10.0.10.20" ipv4_prefix_length = 24`)
		}),
			`ipv4_range.*spans\s+more\s+than\s+the\s+network`},
		{"pool: customization bad host name", pool(func(p *poolArgs) { p.extra = customizationWith("desk_{n}") }), `customization.hostname.*host\s+names\s+like\s+"desk_1"`},
		{"pool: customization more interfaces than NICs", pool(func(p *poolArgs) { p.extra = customizationWith("", "", "") }),
			`More\s+network\s+interfaces\s+than\s+network\s+cards.*2\s+network_interface.*1\s+network\s+card`},
		{"pool: customization without password", pool(func(p *poolArgs) {
			p.extra = "customization {\n guest_username = \"root\"\n}"
		}), `Missing\s+guest\s+login.*customization.guest_password\s+is\s+required`},
		{"pool: free-space floor 0", pool(func(p *poolArgs) { p.extra = "min_free_space_gb = 0" }), `min_free_space_gb.*between\s+1`},
		{"pool: clone limit 0", pool(func(p *poolArgs) { p.extra = "max_clones_per_datastore = 0" }), `max_clones_per_datastore.*at\s+least\s+1`},
		{"pool: clone limit too small for size", pool(func(p *poolArgs) { p.extra = "max_clones_per_datastore = 1" }), `Not\s+enough\s+room.*needs\s+2\s+clones.*at\s+most\s+1`},
		{"pool: unknown replica datastore", pool(func(p *poolArgs) { p.extra = `replica_datastore_id = "datastore-99999"` }), `Datastore\s+not\s+found.*datastore-99999`},
		{"pool: reserved guestinfo key", pool(func(p *poolArgs) { p.guestinfo = `{ "instantclone.name" = "x" }` }), `Reserved guestinfo key.*instantclone\.name`},
		{"pool: empty guestinfo key", pool(func(p *poolArgs) { p.guestinfo = `{ "" = "x" }` }), `Invalid guestinfo key.*must not be empty`},

		{"attachment: unknown pool", attach("group-v99999", env.Datastore(1), ""), `Pool not found.*group-v99999`},
		{"attachment: empty pool", attach("", env.Datastore(1), ""), `pool_id.*length`},
		{"attachment: empty datastore", attach("group-v99999", "", ""), `datastore_id.*length`},
		{"attachment: unknown rebalance", attach("group-v99999", env.Datastore(1), `rebalance = "x"`), `rebalance.*value must be one of`},
	}
	before := inventoryShape(t, env)
	steps := make([]resource.TestStep, 0, len(cases)+1)
	for _, c := range cases {
		steps = append(steps, resource.TestStep{Config: c.config, ExpectError: regexp.MustCompile(`(?s)` + c.want)})
	}
	steps = append(steps, resource.TestStep{
		Config: env.ProviderBlock(),
		Check: func(*terraform.State) error {
			if after := inventoryShape(t, env); after != before {
				return fmt.Errorf("bad input changed the inventory:\nbefore %s\nafter  %s", before, after)
			}
			return nil
		},
	})
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: acctest.ProviderFactories, Steps: steps})
	t.Logf("%d bad values each refused with a diagnostic; inventory unchanged", len(cases))
}

// inventoryShape summarises the VMs and folders of the simulator (the four ClonePrep folders
// aside: a provider may create them on its first read).
func inventoryShape(t *testing.T, env *acctest.Env) string {
	var names []string
	for _, vm := range env.VMs(t) {
		names = append(names, "vm:"+vm.Name)
	}
	// The ClonePrep folders and the folder of locks are made by the valid image the cases
	// share; a lock left inside would still show.
	for _, f := range env.Folders(t) {
		if !strings.HasPrefix(f, "ClonePrep") && f != engine.LockFolder {
			names = append(names, "folder:"+f)
		}
	}
	return fmt.Sprint(sortedStrings(names))
}

func sortedStrings(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// hiddenDatastore creates a datastore mounted only on a host of the second cluster, which the
// first cluster's resource pool cannot see.
func hiddenDatastore(t *testing.T, env *acctest.Env) string {
	ctx := context.Background()
	h := object.NewHostSystem(env.Client.Vim(), env.Inv.Clusters[1].Hosts[0].Ref)
	dss, err := h.ConfigManager().DatastoreSystem(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := dss.CreateLocalDatastore(ctx, "hidden-ds", t.TempDir())
	if err != nil {
		t.Fatalf("creating a datastore on one host: %v", err)
	}
	return ds.Reference().Value
}
