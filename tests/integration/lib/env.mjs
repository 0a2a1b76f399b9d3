// Where the binaries under test live: the CMake build directory named by SB_BUILD_DIR
// (ctest sets it; set it yourself when running `node --test` by hand).
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function buildDir() {
  const dir = process.env.SB_BUILD_DIR;
  if (!dir) {
    throw new Error('SB_BUILD_DIR is not set: point it at the CMake build directory ' +
                    '(ctest sets it for integration tests)');
  }
  return path.resolve(dir);
}

// binPath('tools/devhs/devhs') -> "<build>/tools/devhs/devhs", checked to exist.
export function binPath(rel) {
  const p = path.join(buildDir(), rel);
  if (!existsSync(p)) {
    throw new Error(`${p} does not exist: build it first (cmake --build <dir> --target ` +
                    `${path.basename(rel)})`);
  }
  return p;
}
