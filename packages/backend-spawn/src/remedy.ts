/** How to get the kernel isolation on this host (or another backend), for refusals and `cordon doctor`. */
export function kernelRemedy(problem: string | undefined): string {
  // Neither launcher needs more than perl-base, but both need unprivileged user namespaces.
  const steps = [
    'Allow unprivileged user namespaces (sysctl -w kernel.unprivileged_userns_clone=1 on Debian before 11; on Ubuntu 24.04 sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)',
    'or install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap) where an AppArmor profile grants "userns" to /usr/bin/bwrap (Ubuntu 24.04 ships one)',
    'inside a container, run it with user namespaces allowed (e.g. a seccomp profile permitting unshare/clone)',
  ];
  return `${problem ? `Kernel isolation is unavailable: ${problem}. ` : ''}To get it: ${steps.join('; ')}. Or use the docker backend (CORDON_BACKEND=docker), or accept advisory isolation explicitly with acceptUnenforced: ['network'] or the spawn option allowAdvisoryIsolation: true.`;
}
