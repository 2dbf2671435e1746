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
export { looksNumeric, parseStrictIp } from './ip-literal.js';
export {
  allowPolicyInputSchema,
  DEFAULT_EGRESS_CAPS,
  MAX_AUDIT_LIMIT,
  MAX_EGRESS_RULES,
  parseAllowPolicy,
  parseResolveOverride,
  type AllowNetworkPolicyInput,
} from './parse-policy.js';
export { MIN_CIDR_PREFIX, parseEgressRule } from './parse-rule.js';
export { DEFAULT_RULE_PORTS, parsePortSpec } from './ports.js';
export type {
  AllowNetworkPolicy,
  EgressCaps,
  EgressDecision,
  EgressResolveOverride,
  EgressRule,
  EgressRuleInput,
  PortRange,
} from './policy-types.js';
