package acctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/instantclone/terraform-provider-instantclone/internal/vcsim"
	"github.com/instantclone/terraform-provider-instantclone/internal/vsphere"
)

// VCenterVariables name the vCenter make testacc-vcenter runs against; the README lists them
// with the optional ones (VSPHERE_ALLOW_UNVERIFIED_SSL, VSPHERE_CA_FILE,
// INSTANTCLONE_TEST_DATACENTER, INSTANTCLONE_TEST_SNAPSHOT).
var VCenterVariables = []string{
	"VSPHERE_SERVER", "VSPHERE_USER", "VSPHERE_PASSWORD",
	"INSTANTCLONE_TEST_GOLDEN_VM",     // inventory path or ID of the VM to publish, with a snapshot
	"INSTANTCLONE_TEST_RESOURCE_POOL", // resource pool ID, e.g. resgroup-8 (a cluster's root pool)
	"INSTANTCLONE_TEST_DATASTORES",    // datastore IDs, comma-separated, each mounted on the cluster's hosts
}

// vcenterMode is set by make testacc-vcenter: the suite runs against the vCenter named by
// VCenterVariables instead of a simulator per test.
const vcenterMode = "INSTANTCLONE_TEST_VCENTER"

// OnVCenter reports whether the suite runs against a real vCenter.
func OnVCenter() bool { return os.Getenv(vcenterMode) != "" }

// skipOnVCenter skips, against a real vCenter, a test that needs the simulator.
func skipOnVCenter(t *testing.T) {
	t.Helper()
	if OnVCenter() {
		t.Skip("needs the simulator (fault injection, its users and roles, or its inventory): not run against a real vCenter")
	}
}

// MissingVCenterVariables lists the variables of VCenterVariables that are unset.
func MissingVCenterVariables() []string {
	var out []string
	for _, v := range VCenterVariables {
		if os.Getenv(v) == "" {
			out = append(out, v)
		}
	}
	return out
}

// vcenterTarget is the real vCenter an Env stands for, and the folder the test works in.
type vcenterTarget struct {
	datacenter   string
	golden       string
	snapshot     string
	resourcePool string
	datastores   []string
	folder       string // name of the test's folder, below the datacenter's VM folder
	suffix       string // random, per test: keeps names apart from other runs
}

// NewPortableEnv is an Env the test may run on a simulator (NewEnv with opts) or, under make
// testacc-vcenter, on the real vCenter: there everything the test makes goes into one folder
// of its own, created now and removed when the test ends. A test written on a PortableEnv
// uses only what both have: ProviderBlock, SourceVM, Snapshot, ResourcePool, Datastore,
// Folder, Name and Client.
func NewPortableEnv(t *testing.T, opts vcsim.Options) *Env {
	t.Helper()
	if !OnVCenter() {
		return NewEnv(t, opts)
	}
	if missing := MissingVCenterVariables(); len(missing) > 0 {
		t.Skipf("no vCenter to run against: set %s", strings.Join(missing, ", "))
	}
	suffix := randomSuffix(t)
	target := &vcenterTarget{
		datacenter:   os.Getenv("INSTANTCLONE_TEST_DATACENTER"),
		golden:       os.Getenv("INSTANTCLONE_TEST_GOLDEN_VM"),
		snapshot:     os.Getenv("INSTANTCLONE_TEST_SNAPSHOT"),
		resourcePool: os.Getenv("INSTANTCLONE_TEST_RESOURCE_POOL"),
		folder:       "instantclone-acctest-" + suffix,
		suffix:       suffix,
	}
	for _, ds := range strings.Split(os.Getenv("INSTANTCLONE_TEST_DATASTORES"), ",") {
		if ds = strings.TrimSpace(ds); ds != "" {
			target.datastores = append(target.datastores, ds)
		}
	}
	insecure, _ := strconv.ParseBool(os.Getenv("VSPHERE_ALLOW_UNVERIFIED_SSL"))
	ctx := context.Background()
	c, err := vsphere.Connect(ctx, vsphere.Config{
		Server: os.Getenv("VSPHERE_SERVER"), User: os.Getenv("VSPHERE_USER"), Password: os.Getenv("VSPHERE_PASSWORD"),
		Insecure: insecure, CAFile: os.Getenv("VSPHERE_CA_FILE"), Datacenter: target.datacenter,
	})
	if err != nil {
		t.Fatalf("connecting to vCenter %s: %v", os.Getenv("VSPHERE_SERVER"), err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	folderID, err := c.CreateFolder(ctx, "", target.folder)
	if err != nil {
		t.Fatalf("creating the test's folder %s: %v", target.folder, err)
	}
	e := &Env{Client: c, vcenter: target}
	t.Cleanup(func() { e.removeTestFolder(t, folderID) })
	return e
}

// removeTestFolder deletes the test's folder. Whatever the test leaves in it is a leak and
// fails the test; deleting the folder then removes it, as vCenter deletes a folder's
// contents with it.
func (e *Env) removeTestFolder(t *testing.T, id string) {
	ctx := context.Background()
	folders, vms, err := e.Client.Contents(ctx, id)
	if err != nil {
		t.Errorf("reading the test's folder %s: %v", e.vcenter.folder, err)
	}
	for _, vm := range vms {
		t.Errorf("left in the test's folder: VM %s (%s)", vm.Name, vm.ID)
	}
	for _, f := range folders {
		if f.ID != id {
			t.Errorf("left in the test's folder: folder %s (%s)", f.Name, f.ID)
		}
	}
	if err := e.Client.DeleteFolder(ctx, id); err != nil {
		t.Errorf("removing the test's folder %s: %v", e.vcenter.folder, err)
	}
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// providerBlock leaves the server and credentials to VSPHERE_* in the environment, which the
// provider reads, so the password is never written into a configuration file.
func (v *vcenterTarget) providerBlock(settings string) string {
	dc := ""
	if v.datacenter != "" {
		dc = fmt.Sprintf("datacenter = %q", v.datacenter)
	}
	return fmt.Sprintf("\nprovider \"instantclone\" {\n  %s\n%s\n}\n", dc, settings)
}

// SourceVM is the VM images are published from: the simulator's golden VM, or
// INSTANTCLONE_TEST_GOLDEN_VM.
func (e *Env) SourceVM() string {
	if e.vcenter != nil {
		return e.vcenter.golden
	}
	return vcsim.GoldenVMPath
}

// Snapshot is the snapshot images are published from; "" is the source's current one.
func (e *Env) Snapshot() string {
	if e.vcenter != nil {
		return e.vcenter.snapshot
	}
	return ""
}

// Datastores is how many datastores the test may use.
func (e *Env) Datastores() int {
	if e.vcenter != nil {
		return len(e.vcenter.datastores)
	}
	return len(e.Inv.Datastores)
}

// Folder is the folder pools are made in: the test's own on a vCenter, "" (the datacenter's
// VM folder) on the simulator.
func (e *Env) Folder() string {
	if e.vcenter != nil {
		return e.vcenter.folder
	}
	return ""
}

// Name makes a name unique to this test run on a vCenter others use too.
func (e *Env) Name(base string) string {
	if e.vcenter != nil {
		return base + "-" + e.vcenter.suffix
	}
	return base
}
