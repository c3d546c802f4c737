package acctest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/instantclone/terraform-provider-instantclone/internal/engine"
)

// CheckInventoryMatchesState checks that the simulator holds exactly what state says: every
// clone in a pool folder is in its pool's state and the other way round, every internal VM
// belongs to an image in state and is needed by a pool in state (or is the image's template),
// every parent runs, nothing is left in the resync folder, and no name is taken twice. Only
// the golden VM and VMs named in keep may exist besides.
func (e *Env) CheckInventoryMatchesState(t *testing.T, keep ...string) func(*terraform.State) error {
	return func(s *terraform.State) error {
		images := map[string]bool{}
		type poolState struct {
			name, image string
			replicasOn  string // replica_datastore_id: the replica there, none on the others
			datastores  map[string]bool
			clones      map[string]string // ID → name
		}
		pools := map[string]*poolState{} // by folder name
		for _, rs := range s.RootModule().Resources {
			a := rs.Primary.Attributes
			switch rs.Type {
			case "instantclone_image":
				images[rs.Primary.ID] = true
			case "instantclone_pool":
				p := &poolState{name: a["name"], image: a["current_image_id"], replicasOn: a["replica_datastore_id"], datastores: map[string]bool{}, clones: map[string]string{}}
				for i := 0; ; i++ {
					id, ok := a["clones."+strconv.Itoa(i)+".id"]
					if !ok {
						break
					}
					p.clones[id] = a["clones."+strconv.Itoa(i)+".name"]
				}
				for k, v := range a {
					if strings.HasPrefix(k, "all_datastore_ids.") && k != "all_datastore_ids.#" {
						p.datastores[v] = true
					}
				}
				pools[p.name] = p
			}
		}
		folders := e.Folders(t)
		var problems []string
		seen := map[string]string{}
		inPool := map[string]int{}
		for _, vm := range e.VMs(t) {
			folder := folders[vm.Folder]
			key := vm.Folder + "/" + vm.Name
			if other, dup := seen[key]; dup {
				problems = append(problems, fmt.Sprintf("two VMs called %s in %s: %s and %s", vm.Name, folder, other, vm.ID))
			}
			seen[key] = vm.ID
			if p, ok := pools[folder]; ok {
				inPool[folder]++
				if _, known := p.clones[vm.ID]; !known {
					problems = append(problems, fmt.Sprintf("clone %s (%s) in pool folder %s is not in state", vm.Name, vm.ID, folder))
				}
				continue
			}
			role, image := vm.Marks[engine.MarkRole], vm.Marks[engine.MarkImage]
			switch {
			case vm.Name == "golden" || contains(keep, vm.Name):
			case folder == engine.ResyncFolder:
				problems = append(problems, fmt.Sprintf("%s (%s) left in %s", vm.Name, vm.ID, engine.ResyncFolder))
			case strings.HasPrefix(vm.Name, "cp-") && !images[image]:
				problems = append(problems, fmt.Sprintf("internal VM %s (%s) belongs to image %q, not in state", vm.Name, vm.ID, image))
			case role == "replica" || role == "parent":
				needed := false
				for _, p := range pools {
					switch {
					case p.image != image:
					case role == "replica" && p.replicasOn != "":
						needed = needed || vm.Datastore == p.replicasOn
					default:
						needed = needed || p.datastores[vm.Datastore]
					}
				}
				if !needed {
					problems = append(problems, fmt.Sprintf("internal VM %s (%s) is needed by no pool in state", vm.Name, vm.ID))
				}
				if role == "parent" && !vm.PoweredOn {
					problems = append(problems, fmt.Sprintf("parent VM %s (%s) is powered off: clones cannot fork from it", vm.Name, vm.ID))
				}
			case role == "template":
			default:
				problems = append(problems, fmt.Sprintf("unexpected VM %s (%s) in folder %s", vm.Name, vm.ID, folder))
			}
		}
		for name, p := range pools {
			if inPool[name] != len(p.clones) {
				problems = append(problems, fmt.Sprintf("state lists %d clones of pool %s, vCenter has %d", len(p.clones), name, inPool[name]))
			}
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			return fmt.Errorf("inventory does not match state:\n  %s", strings.Join(problems, "\n  "))
		}
		return nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
