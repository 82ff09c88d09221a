// Tools as the operating system knows them: accounts, owners, runtime directories, the files
// and environment root may touch on a tool's behalf (docs/reference/security.md).
export { groupMembers, lookupAccount, lookupGroup, maintainersOf, resolveTool, toolByName, toolOwner, toolsUnder, type Owner, type Tool, type ToolSelection, type UnixAccount } from './tool-account.js';
export { prepareRuntimeDirectory, requireRootOwnedDirectory, runtimeDirectory, SYSTEM_RUNTIME_ROOT } from './runtime-dir.js';
export { readOwnedFile, readOwnedTail, type OwnedRead } from './tool-files.js';
export { PASSED_VARIABLES, toolProcessEnvironment } from './tool-environment.js';
export { spawnToolProgram, type ToolProgram } from './spawn-as-tool.js';
export { programArgument, toolProgramArguments } from './program-args.js';
export { installSudoersRule, removeSudoersRule, renderSudoersRule, sudoersRuleFile, SUDOERS_DIR, type SudoersOutcome, type SudoersPlace } from './sudoers-rule.js';
