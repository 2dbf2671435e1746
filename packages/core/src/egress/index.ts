export {
  DEFAULT_AUDIT_LIMIT,
  EgressAuditLog,
  type EgressAudit,
  type EgressPath,
  type EgressRecord,
  type EgressVerdict,
} from './audit.js';
export { cidrRuleFor, decideAddress, decideName } from './decide.js';
export { DENIED_RANGES, deniedRange } from './deny-set.js';
export { normalizeHostName } from './host-name.js';
export type {
  AllowNetworkPolicy,
  EgressCaps,
  EgressDecision,
  EgressResolveOverride,
  EgressRule,
  EgressRuleInput,
  PortRange,
} from './policy-types.js';
