export { GitCommandError, runGit, resolveCommit, isAncestor, assertBranchName, type GitRun, type GitOptions } from './git-command.js';
export {
  parseRemoteUrl,
  normalizeRemoteUrl,
  cacheDirName,
  redactRemoteUrl,
  redactUrlCredentials,
  InvalidRemoteUrlError,
  type RemoteLocation,
} from './remote-url.js';
export {
  ensureWorkerClone,
  fetchRemote,
  pruneCache,
  WORKER_REMOTE,
  DEFAULT_CLONE_MAX_AGE_MS,
  type WorkerClone,
  type EnsureWorkerCloneOptions,
  type PruneCacheOptions,
} from './clone-cache.js';
export {
  checkoutItemBranch,
  pushItemBranch,
  removeItemWorktree,
  worktreeDirName,
  ItemBranchWorktree,
  IntegrationBranchMissingError,
  StartCommitMissingError,
  type ItemCheckout,
  type ItemStart,
  type ItemPushOutcome,
  type CheckoutItemOptions,
  type PushItemOptions,
} from './item-branch.js';
export {
  pushIntegrationBranch,
  deleteMergedRemoteBranch,
  deleteRemoteBranchAt,
  NotFastForwardError,
  RemotePushRefusedError,
  type PushIntegrationOptions,
  type IntegrationPushOutcome,
  type DeleteMergedOptions,
  type DeleteMergedOutcome,
  type DeleteRemoteBranchOptions,
  type DeleteRemoteBranchOutcome,
} from './integration-push.js';
export { remoteBranchTip, remoteBranchTips, resolveRemote, type RemoteTarget, type RefusalReason } from './remote-refs.js';
export { watchBranch, type BranchWatchOptions } from './commit-watch.js';
