/**
 * Self-checks of the peer-running harness (tests/support/) without the gateway: the port
 * finder, child processes, the SIPp runner (a SIPp UAC calling a SIPp UAS directly), the
 * raw WebSocket SIP client (against a throwaway Bun.serve), and Chromium loading the
 * bundled JsSIP / SIP.js harness page.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { launchChromium, openHarnessPage, serveSipHarness } from '../../support/browser.ts'
import { freePortRange, freeTcpPort, freeUdpPort, isTcpPortListening, isUdpPortBound, waitForPortBound } from '../../support/ports.ts'
import { PeerSet, requireBinary, spawnPeer } from '../../support/processes.ts'
import { parseSippStatCsv, readSippTrace, runSipp, startSipp } from '../../support/sipp.ts'
import { SipText } from '../../support/sip-text.ts'
import { WsSipClient, fakeSdp } from '../../support/ws-sip-client.ts'

setDefaultTimeout(30_000)

const peers = new PeerSet()
afterAll(() => peers.killAll())

describe('ports', () => {
  test('free UDP and TCP ports can be bound, and the /proc check sees a bound port', async () => {
    const udp = await freeUdpPort()
    const tcp = await freeTcpPort()
    expect(udp).not.toBe(tcp)
    expect(isUdpPortBound(udp)).toBe(false)
    const socket = await Bun.udpSocket({ hostname: '127.0.0.1', port: udp })
    await waitForPortBound(udp, 'udp', 1_000)
    expect(isUdpPortBound(udp)).toBe(true)
    socket.close()
    const listener = Bun.listen({ hostname: '127.0.0.1', port: tcp, socket: { data() {} } })
    expect(isTcpPortListening(tcp)).toBe(true)
    listener.stop(true)
  })

  test('a range of 4 consecutive free ports', async () => {
    const base = await freePortRange(4)
    for (let port = base; port < base + 4; port++) {
      const socket = await Bun.udpSocket({ hostname: '127.0.0.1', port })
      expect(socket.port).toBe(port)
      socket.close()
    }
  })
})

describe('processes', () => {
  test('output is captured and waited for; kill ends the whole process group', async () => {
    const peer = peers.spawn('sh', ['sh', '-c', 'echo ready; sleep 30 & echo child=$!; wait'])
    await peer.waitFor('ready', 5_000)
    const childLine = await peer.waitFor(/child=\d+/, 5_000)
    const child = Number(childLine.split('=')[1])
    expect(peer.running).toBe(true)
    await peer.kill()
    expect(peer.running).toBe(false)
    await Bun.sleep(50)
    // Gone, or a zombie waiting for init to reap it (state Z in /proc/PID/stat).
    const stat = await Bun.file(`/proc/${child}/stat`).text().catch(() => '')
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
    expect(['', 'Z', 'X']).toContain(state)
  })

  test('waitFor fails with the output tail when the process exits first', async () => {
    const peer = spawnPeer('false', ['sh', '-c', 'echo something else; exit 3'])
    await expect(peer.waitFor('never printed', 5_000)).rejects.toThrow(/exited with code 3[\s\S]*something else/)
  })

  test('a missing program fails with the apt-get command', () => {
    expect(() => requireBinary('patchbay-no-such-program', 'no-such-package'))
      .toThrow('patchbay-no-such-program not found: install with apt-get install -y no-such-package (or run tests/setup/install-peers.sh)')
  })
})

describe('SIPp runner', () => {
  test('a SIPp UAC calls a SIPp UAS directly: statistics, trace and exit codes are read', async () => {
    const uas = await startSipp({ name: 'self-uas', builtin: 'uas', calls: 3, extraArgs: ['-d', '0'] })
    peers.add(uas.process)
    const uac = await runSipp({ name: 'self-uac', builtin: 'uac', remote: `127.0.0.1:${uas.localPort}`, calls: 3, rate: 30, pauseMs: 0 })
    expect(uac.exitCode, uac.summary()).toBe(0)
    expect(uac.stats).toMatchObject({ created: 3, successful: 3, failed: 0 })
    const trace = readSippTrace(uac)
    expect(trace.filter((t) => t.direction === 'sent' && t.message.method === 'INVITE')).toHaveLength(3)
    expect(trace.filter((t) => t.direction === 'received' && t.message.status === 200 && t.message.method === 'INVITE')).toHaveLength(3)
    const uasResult = await uas.finish(15_000)
    expect(uasResult.stats?.successful, uasResult.summary()).toBe(3)
  })

  test('a call that gets no answer is counted as failed, and the summary says why', async () => {
    const silent = await freeUdpPort()
    const uac = await runSipp({ name: 'self-uac-nobody', builtin: 'uac', remote: `127.0.0.1:${silent}`, calls: 1, recvTimeoutMs: 500 })
    expect(uac.exitCode).toBe(1)
    expect(uac.stats?.failed).toBe(1)
    expect(uac.summary()).toContain('failed 1')
  })

  test('the statistics CSV is read by column name', () => {
    const csv = 'TotalCallCreated;SuccessfulCall(C);FailedCall(C);FailedMaxUDPRetrans(C);Retransmissions(C)\n0;0;0;0;0\n5;3;2;2;7\n'
    expect(parseSippStatCsv(csv)).toEqual({ created: 5, successful: 3, failed: 2, retransmissions: 7, outOfCallMessages: 0, failures: { FailedMaxUDPRetrans: 2 } })
  })
})

describe('WebSocket SIP client', () => {
  test('speaks subprotocol sip, frames one message per text frame, and waits by method and status', async () => {
    let handshakeProtocol = null as string | null
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(request, srv) {
        handshakeProtocol = request.headers.get('sec-websocket-protocol')
        if (!handshakeProtocol?.split(',').map((p) => p.trim()).includes('sip')) return new Response('need sip', { status: 426 })
        return srv.upgrade(request, { headers: { 'Sec-WebSocket-Protocol': 'sip' } }) ? undefined : new Response('no', { status: 400 })
      },
      websocket: {
        message(ws, data) {
          const text = String(data)
          if (text === '\r\n\r\n') return void ws.send('\r\n')
          ws.send(text) // echo the request back
          const request = SipText.parse(text)
          if (request?.isRequest) ws.send(`SIP/2.0 486 Busy Here\r\n${request.fields('via').map((v) => `Via: ${v.value}`).join('\r\n')}\r\n` +
            `From: ${request.get('from')}\r\nTo: ${request.get('to')};tag=t1\r\nCall-ID: ${request.callId}\r\nCSeq: ${request.get('cseq')}\r\nContent-Length: 0\r\n\r\n`)
        },
      },
    })
    try {
      const url = `ws://127.0.0.1:${server.port}/sip`
      const client = await WsSipClient.connect({ url, username: 'alice', password: 'pw', domain: 'patchbay.test' })
      expect(client.protocol).toBe('sip')
      expect(handshakeProtocol).toBe('sip')

      const call = client.startInvite('sip:bob@patchbay.test', { body: fakeSdp('webrtc', 'offer') })
      const echoed = await client.waitForRequest('INVITE', call.callId)
      expect(echoed.getAll('via')[0]).toMatch(/^SIP\/2\.0\/WS [a-z0-9]+\.invalid;branch=z9hG4bK[a-z0-9]+$/)
      expect(echoed.get('contact')).toBe(`<sip:alice@${client.viaHost};transport=ws>`)
      expect(Number(echoed.get('content-length'))).toBe(new TextEncoder().encode(echoed.body).length)
      expect(echoed.body).toContain('UDP/TLS/RTP/SAVPF')
      const busy = await client.waitForResponse({ status: 486, callId: call.callId, method: 'INVITE' })
      expect(busy.toTag).toBe('t1')

      client.sendFrame('\r\n\r\n')
      const pong = await client.waitForFrame((f) => f.message === null, 'keepalive answer')
      expect(pong.text).toBe('\r\n')

      await expect(client.waitForRequest('BYE', undefined, 100)).rejects.toThrow(/timed out after 100 ms waiting for BYE request/)
      client.close()

      await expect(WsSipClient.connect({ url, username: 'alice', password: 'pw', domain: 'patchbay.test', protocols: [] })).rejects.toThrow()
    } finally {
      await server.stop(true)
    }
  })
})

describe('Chromium harness page', () => {
  test('Debian Chromium loads the bundled JsSIP and SIP.js with a fake microphone', async () => {
    const server = await serveSipHarness()
    const browser = await launchChromium()
    try {
      const page = await openHarnessPage(browser, server)
      const libraries = await page.page.evaluate(() => (window as unknown as { pbHarness: { libraries: { jssip: string; sipjs: string } } }).pbHarness.libraries)
      expect(libraries.jssip).toMatch(/^3\./)
      expect(libraries.sipjs).toMatch(/^0\.21/)
      const tracks = await page.page.evaluate(async () => {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true })
        return stream.getAudioTracks().map((t) => t.readyState)
      })
      expect(tracks).toEqual(['live'])
      expect(await page.state()).toMatchObject({ registered: false, callState: 'none' })
    } finally {
      await browser.close()
      await server.stop()
    }
  })
})
