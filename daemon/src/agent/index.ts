export { createAgentServiceModule } from './grpc.js';
export { createAgentChannels, agentDirFor, AGENT_SOCKET_NAME, MODEL_SOCKET_NAME } from './grpc-channels.js';
export type { AgentChannelsOptions } from './grpc-channels.js';
export { ModelProxies } from './model-proxies.js';
export type { ModelProxiesOptions, ModelProxyTarget } from './model-proxies.js';
export { startModelProxy } from './model-proxy.js';
export type { ModelProxy, ModelProxyOptions } from './model-proxy.js';
export { agentRunnerBundle, AGENT_RUNNER_COMMAND, AGENT_RUNNER_IN_SANDBOX, stageRunnerBundle } from './runner-bundle.js';
export { RUNNER_EVENT_TYPES, MAX_EVENTS_PER_REPORT } from './convert.js';
export type {
  AgentActionData,
  AgentActionRequest,
  AgentChannel,
  AgentChannelCarrier,
  AgentChannelHooks,
  AgentChannels,
  AgentDecision,
  AgentEventData,
  SessionBriefData,
} from './types.js';
