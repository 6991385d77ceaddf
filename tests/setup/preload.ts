/**
 * Runs once before the test files (bunfig.toml [test] preload): builds the softphone bundle
 * into softphone/dist when it is missing or older than its sources, as `npm start` does, so
 * that gateways started by tests serve the current softphone.
 */
import { softphoneBundleState, writeSoftphoneBundle } from '../../softphone/build.ts'

if (softphoneBundleState() !== 'fresh') await writeSoftphoneBundle()
