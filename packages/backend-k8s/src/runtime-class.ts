/**
 * Whether a RuntimeClass is gVisor: GKE Sandbox's is `gvisor`, a self-managed one is
 * usually named after its handler, `runsc`. gVisor gives each pod its own kernel (its
 * own terminals, boot id, mount table), so some host-kernel measures do not apply.
 */
export function isGvisorRuntimeClass(runtimeClassName: string | undefined): boolean {
  return runtimeClassName !== undefined && /gvisor|runsc/i.test(runtimeClassName);
}
