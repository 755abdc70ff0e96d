// Makes tokens with Akamai's EdgeAuth library for Node (npm
// `akamai-edgeauth`), for server/tests/edgeauth_interop.rs: the same JSON
// cases as make_tokens.py (Python option names) on stdin, translated to
// the library's camelCase options; a JSON list of tokens on stdout.
'use strict'
const EdgeAuth = require('akamai-edgeauth')

const names = {
    start_time: 'startTime',
    end_time: 'endTime',
    window_seconds: 'windowSeconds',
    session_id: 'sessionId',
    escape_early: 'escapeEarly',
}

let input = ''
process.stdin.on('data', (chunk) => { input += chunk })
process.stdin.on('end', () => {
    const tokens = JSON.parse(input).map((c) => {
        const options = {}
        for (const [name, value] of Object.entries(c)) {
            if (name !== 'acl' && name !== 'url') {
                options[names[name] || name] = value
            }
        }
        const auth = new EdgeAuth(options)
        return c.url !== undefined ? auth.generateURLToken(c.url) : auth.generateACLToken(c.acl)
    })
    process.stdout.write(JSON.stringify(tokens))
})
