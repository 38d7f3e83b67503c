#!/usr/bin/env node
// Verify a key-signed Sigstore bundle (v0.3, DSSE) offline with the Sigstore project's own
// JavaScript verifier (@sigstore/verify, installed by scripts/setup.sh): no transparency log,
// no timestamp (as `cosign verify --key … --insecure-ignore-tlog` checks), the key found by
// the bundle's public-key hint (base64 of the SHA-256 of its SubjectPublicKeyInfo).
//
//   sigstore-verify BUNDLE.json PUBKEY.pem
//
// Prints `verified <predicateType>` (exit 0) or `refused: <why>` (exit 1).
const fs = require('fs');
const crypto = require('crypto');
const { bundleFromJSON } = require('@sigstore/bundle');
const { toSignedEntity, Verifier } = require('@sigstore/verify');

const [bundlePath, pubPath] = process.argv.slice(2);
if (!bundlePath || !pubPath) {
  console.error('usage: sigstore-verify BUNDLE.json PUBKEY.pem');
  process.exit(2);
}
const pub = crypto.createPublicKey(fs.readFileSync(pubPath));
const hint = crypto
  .createHash('sha256')
  .update(pub.export({ type: 'spki', format: 'der' }))
  .digest('base64');
const trust = {
  certificateAuthorities: [],
  timestampAuthorities: [],
  tlogs: [],
  ctlogs: [],
  publicKey: (h) => {
    if (h !== hint) throw new Error(`no key for hint ${h}`);
    return { publicKey: pub, validFor: () => true };
  },
};
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
  const options = { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0, timestampThreshold: 0 };
  new Verifier(trust, options).verify(toSignedEntity(bundle));
  const statement = JSON.parse(bundle.content.dsseEnvelope.payload.toString());
  console.log(`verified ${statement.predicateType}`);
} catch (e) {
  console.log(`refused: ${e.message}`);
  process.exit(1);
}
