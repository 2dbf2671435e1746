fetch('http://api.example.test/x').then(r => r.text()).then(t => console.log('fetch:', t), e => console.log('fetch err', e.message, e.cause && e.cause.message));
