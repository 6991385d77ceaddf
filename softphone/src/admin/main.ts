/**
 * Entry point of the admin page bundle (`admin.js`, served with admin.html at `/admin`):
 * mounts <pb-admin-app> with the browser's fetch and sessionStorage. With `?test=1`,
 * `window.__pbAdmin` exposes the app for end-to-end tests.
 */
import './components/pb-admin-app.ts'

const app = document.createElement('pb-admin-app')
app.services = { fetch: (url, init) => fetch(url, init), storage: sessionStorage }
const mount = document.getElementById('app')
if (mount) mount.replaceChildren(app)
else document.body.append(app)

if (new URLSearchParams(location.search).get('test') === '1') {
  Object.assign(window, { __pbAdmin: { app } })
}
