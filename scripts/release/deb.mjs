// The Debian package (docs/PACKAGING.md), built with dpkg-deb from a staged tree: the single
// executable (flavour "deb") in /usr/bin, completions in each shell's system folder, one man page
// per command (scripts/gen-man.mjs), the systemd service + timer that `schedule install --systemd`
// writes (shipped disabled), the example configuration under /usr/share/doc, /etc/mongo-backup/ 0750.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './paths.mjs';

const PACKAGE = 'mongo-backup';
const MAINTAINER = 'mongo-backup maintainers <maintainers@users.noreply.r-seed-79dd99ca.example>';
/** When the shipped timer runs once enabled; `systemctl edit mongo-backup.timer` changes it. */
const SHIPPED_SCHEDULE = '0 3 * * *';
export const DEBIAN_REVISION = '1';

/** Writes one file of the package tree with its mode (folders on the way: 0755). */
function place(root, path, content, mode = 0o644) {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true, mode: 0o755 });
  writeFileSync(file, content);
  chmodSync(file, mode);
}

function folder(root, path, mode = 0o755) {
  mkdirSync(join(root, path), { recursive: true });
  chmodSync(join(root, path), mode);
}

/** gzip -9n equivalent: no name, no timestamp in the header (reproducible, lintian). */
function gzip(content) {
  const zipped = gzipSync(content, { level: 9 });
  zipped.writeUInt32LE(0, 4); // MTIME = 0
  return zipped;
}

function copyright(year) {
  return [
    'Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/',
    `Upstream-Name: ${PACKAGE}`,
    '',
    'Files: *',
    `Copyright: ${year} mongo-backup maintainers`,
    'License: Apache-2.0',
    '',
    'Files: usr/bin/mongo-backup',
    `Copyright: ${year} mongo-backup maintainers`,
    '           Node.js contributors and the authors of the libraries bundled in it',
    'Comment: a Node.js 24 single-executable application: the Node.js binary (MIT and the licences',
    ' listed in its LICENSE) with the tool and its npm dependencies (MIT, Apache-2.0, ISC, BSD) inside.',
    'License: Apache-2.0',
    '',
    'License: Apache-2.0',
    ' Licensed under the Apache License, Version 2.0 (the "License"); you may not use this file except',
    ' in compliance with the License. You may obtain a copy of the License at',
    ' .',
    ' http://www.apache.org/licenses/LICENSE-2.0',
    ' .',
    ' Unless required by applicable law or agreed to in writing, software distributed under the',
    ' License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND,',
    ' either express or implied. See the License for the specific language governing permissions',
    ' and limitations under the License.',
    ' .',
    ' On Debian systems, the full text of the Apache License 2.0 can be found in',
    ' /usr/share/common-licenses/Apache-2.0.',
    '',
  ].join('\n');
}

/** `0.1.0-1` → `0.1.0` */
function upstreamVersion(debianVersion) {
  return debianVersion.replace(/-[^-]+$/, '');
}

function changelog(version, date) {
  return [
    `${PACKAGE} (${version}) unstable; urgency=medium`,
    '',
    `  * Release ${upstreamVersion(version)}, built by scripts/release/build.mjs.`,
    '',
    ` -- ${MAINTAINER}  ${date.toUTCString().replace('GMT', '+0000')}`,
    '',
  ].join('\n');
}

function control(version, installedKib) {
  return [
    `Package: ${PACKAGE}`,
    `Version: ${version}`,
    'Architecture: amd64',
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKib}`,
    'Depends: libc6 (>= 2.28), libgcc-s1, libstdc++6',
    'Section: admin',
    'Priority: optional',
    'Homepage: https://www.npmjs.com/package/mongo-backup',
    'Description: streaming, compressed, encrypted, verified MongoDB backups',
    ' mongo-backup runs mongodump, compresses and encrypts the archive, records its',
    ' SHA-256 and stores it on local disk, S3, Google Cloud Storage, Azure Blob',
    ' Storage, SFTP or FTP; restore verifies a backup before streaming it into',
    ' mongorestore. One self-contained executable (Node.js inside). Needs the',
    ' MongoDB Database Tools (mongodump, mongorestore) from MongoDB.',
    '',
  ].join('\n');
}

/**
 * The units `schedule install --systemd` writes, rendered by the same code (src/schedule) for
 * /usr/bin/mongo-backup and the system configuration file, with a note saying they ship disabled
 * in place of the marker that makes `schedule remove` delete them (it must not delete these).
 */
async function systemdUnits(distDir) {
  const { renderUnits, UNIT_MARKER } = await import(pathToFileURL(join(distDir, 'schedule/systemd.js')).href);
  const { cronToOnCalendar } = await import(pathToFileURL(join(distDir, 'schedule/calendar.js')).href);
  const { parseCron } = await import(pathToFileURL(join(distDir, 'schedule/cron.js')).href);
  const { SYSTEM_CONFIG_FILE } = await import(pathToFileURL(join(distDir, 'config/discover.js')).href);
  const files = renderUnits(
    {
      type: 'full',
      command: [`/usr/bin/${PACKAGE}`, '--config', SYSTEM_CONFIG_FILE, 'create', '--type', 'full', '--no-progress'],
      workingDirectory: `/var/lib/${PACKAGE}`,
      environmentFile: `/etc/${PACKAGE}/env`,
      onCalendar: cronToOnCalendar(parseCron(SHIPPED_SCHEDULE)),
      cronExpression: SHIPPED_SCHEDULE,
      userUnit: false,
    },
    '/usr/lib/systemd/system',
  );
  const note = [
    `# Shipped disabled by the ${PACKAGE} Debian package. Put the configuration in ${SYSTEM_CONFIG_FILE},`,
    `# secrets in /etc/${PACKAGE}/env (0600), then: systemctl enable --now ${PACKAGE}.timer`,
    `# Another schedule: systemctl edit ${PACKAGE}.timer, or \`${PACKAGE} schedule install --systemd\``,
    '# (its units in /etc/systemd/system take precedence over these).',
  ].join('\n');
  const documentation = `Documentation=man:${PACKAGE}(1) man:${PACKAGE}-schedule-install(1)`;
  return files.map((file) => ({
    path: file.path,
    content: file.content.replace(UNIT_MARKER, note).replace(/^(Description=.*)$/m, `$1\n${documentation}`),
  }));
}

/** The package's files (DEBIAN/ left out), relative to `root`, sorted. */
function packageFiles(root) {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .filter((path) => !path.startsWith('DEBIAN/'))
    .sort();
}

function installedSizeKib(root) {
  const bytes = packageFiles(root).reduce((sum, path) => sum + statSync(join(root, path)).size, 0);
  return Math.ceil(bytes / 1024);
}

/** DEBIAN/md5sums: what `dpkg --verify` checks installed files against. */
function md5sums(root) {
  return packageFiles(root)
    .map((path) => `${createHash('md5').update(readFileSync(join(root, path))).digest('hex')}  ${path}\n`)
    .join('');
}

/**
 * Builds `output` (.deb) from the executable, the staged npm sources (their dist/ and
 * completions/) and `manDir` (scripts/gen-man.mjs output); `scratch` is emptied first.
 */
export async function buildDeb({ output, executable, stageDir, manDir, version: upstream, date, scratch, compression = 'xz' }) {
  // A Debian revision: the package is not native (its upstream is the npm package), so its
  // changelog is changelog.Debian.gz as Debian policy 12.7 asks.
  const version = `${upstream}-${DEBIAN_REVISION}`;
  rmSync(scratch, { recursive: true, force: true });
  const root = join(scratch, 'root');
  folder(root, '.');
  place(root, 'usr/bin/mongo-backup', readFileSync(executable), 0o755);

  const completions = join(stageDir, 'completions');
  place(root, 'usr/share/bash-completion/completions/mongo-backup', readFileSync(join(completions, 'mongo-backup.bash')));
  place(root, 'usr/share/zsh/vendor-completions/_mongo-backup', readFileSync(join(completions, '_mongo-backup')));
  place(root, 'usr/share/fish/vendor_completions.d/mongo-backup.fish', readFileSync(join(completions, 'mongo-backup.fish')));

  for (const page of readdirSync(manDir).filter((name) => name.endsWith('.1')).sort()) {
    place(root, `usr/share/man/man1/${page}.gz`, gzip(readFileSync(join(manDir, page))));
  }

  const doc = `usr/share/doc/${PACKAGE}`;
  place(root, `${doc}/copyright`, copyright(date.getUTCFullYear()));
  place(root, `${doc}/changelog.Debian.gz`, gzip(changelog(version, date)));
  place(root, `${doc}/examples/backuprc.yaml`, readFileSync(join(stageDir, 'backuprc.example.yaml')));
  place(root, `usr/share/lintian/overrides/${PACKAGE}`, readFileSync(join(repoRoot, 'scripts/release/lintian-overrides')));

  for (const unit of await systemdUnits(join(stageDir, 'dist'))) place(root, unit.path.slice(1), unit.content);

  // Folders get 0755 whatever the build's umask; then the two private ones get 0750.
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isDirectory()) chmodSync(join(entry.parentPath, entry.name), 0o755);
  }
  // Configuration and secrets (env) live here: root only (dpkg-deb --root-owner-group: group root).
  folder(root, `etc/${PACKAGE}`, 0o750);
  // The service's working directory; the tool keeps its state here when run as root.
  folder(root, `var/lib/${PACKAGE}`, 0o750);

  place(root, 'DEBIAN/md5sums', md5sums(root));
  place(root, 'DEBIAN/control', control(version, installedSizeKib(root)));
  rmSync(output, { force: true });
  // xz for releases (smallest); gzip for test builds (6 s instead of 75 s, docs/PACKAGING.md).
  execFileSync('dpkg-deb', ['--root-owner-group', `-Z${compression}`, '--build', root, output], { stdio: 'pipe' });
  return output;
}
