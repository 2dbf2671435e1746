import type { AllowNetworkPolicy, EgressRecord, EgressResolveOverride } from '@cordon/core';

/**
 * The broker daemon's control channel: one JSON object per line, both ways. A
 * backend whose broker cannot run in its own process (a container beside the
 * sandboxes, a pod in the tenant namespace) talks to it over this, on whatever
 * byte stream reaches it (an attached container's stdio, a pod's exec stream).
 * Version 1. The daemon is cordon's code on the far side: the channel carries no
 * sandbox bytes, only the caller's commands and the broker's records.
 */
export const DAEMON_WIRE_VERSION = 1;

/** A line past this is a broken channel, not a message. */
export const MAX_WIRE_LINE_BYTES = 1024 * 1024;

/** The policy as it travels: the parsed one, with the resolve override as pairs. */
export type WirePolicy =
  | { readonly mode: 'none' }
  | (Omit<AllowNetworkPolicy, 'resolve'> & {
      readonly resolve?: readonly (readonly [
        string,
        EgressResolveOverride extends ReadonlyMap<string, infer T> ? T : never,
      ])[];
    });

/** What the caller sends. */
export type DaemonCommand =
  | {
      readonly v: 1;
      readonly op: 'open';
      /** The session's key: a path component of the daemon's root ([A-Za-z0-9_-], at most 64). */
      readonly session: string;
      /** The sandbox's group (one per execution): only it may pass the session's directory (mode 0710). */
      readonly gid: number;
      readonly policy: WirePolicy;
    }
  | { readonly v: 1; readonly op: 'close'; readonly session: string };

/** What the daemon sends. */
export type DaemonEvent =
  /** `tcpPort`: where the TCP front listens, when the daemon has one. */
  | { readonly v: 1; readonly ev: 'ready'; readonly tcpPort?: number }
  /** `socket`: the session's unix socket, as a path in the daemon's file system. */
  | { readonly v: 1; readonly ev: 'opened'; readonly session: string; readonly socket: string }
  | { readonly v: 1; readonly ev: 'record'; readonly session: string; readonly record: EgressRecord }
  | { readonly v: 1; readonly ev: 'closed'; readonly session: string }
  | { readonly v: 1; readonly ev: 'error'; readonly session?: string; readonly message: string };

export const SESSION_KEY = /^[A-Za-z0-9_-]{1,64}$/;

export function toWirePolicy(policy: AllowNetworkPolicy | { readonly mode: 'none' }): WirePolicy {
  if (policy.mode === 'none') return { mode: 'none' };
  const { resolve, ...rest } = policy;
  return resolve ? { ...rest, resolve: [...resolve.entries()] } : rest;
}

export function fromWirePolicy(policy: WirePolicy): AllowNetworkPolicy | { readonly mode: 'none' } {
  if (policy.mode === 'none') return { mode: 'none' };
  const { resolve, ...rest } = policy;
  return resolve ? { ...rest, resolve: new Map(resolve) } : rest;
}
